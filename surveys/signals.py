from django.dispatch import Signal

# Sent once the response's transaction has committed, with `response`.
response_submitted = Signal()
