from django.dispatch import Signal

# Sent once the response's transaction has committed, with `response`.
response_submitted = Signal()

# Sent inside the transaction in which a customer opts out of every survey, the first
# time they do, with `customer`.
customer_opted_out = Signal()

# Sent inside the transaction that excludes a survey's responses from its scores or
# includes them again, with `survey`, `responses` (their pks) and `excluded` (True when
# they were taken out): the scores change with it, or neither does.
responses_excluded = Signal()
