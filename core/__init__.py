"""What web/ and jobs/ share: settings, database, models, status rules, metrics, clients.

Nothing here imports web/ or jobs/, and nothing here does I/O at import time.
"""
