"""The messaging use-cases, one module per concern:

- inbound.py: store what customers send (from parsed webhook events)
- statuses.py: apply delivery statuses, monotonic; statuses that wait for their message
- send.py: the one send use-case (validation, the window, opt-outs, pending + task)
"""
