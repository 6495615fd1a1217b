"""The messaging use-cases, one module per concern:

- inbound.py: store what customers send (from parsed webhook events)
- statuses.py: apply delivery statuses, monotonic; statuses that wait for their message
- recipients.py: what statuses tell about their recipients (the customer's user id)
- send.py: the one send use-case (validation, the window, opt-outs, pending + task)
"""
