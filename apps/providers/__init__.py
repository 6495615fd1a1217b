"""The providers: one package per provider of WhatsApp messaging (floor 4 of the
house, docs/architecture.md). Each holds webhook verification, the pure parser to typed
events, the client returning typed outcomes, the error table and the capabilities, and
imports nothing from the domain."""
