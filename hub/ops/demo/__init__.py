"""Demo data for ``manage.py seed_demo``: the records (``data``), and the code that writes them
through the domain services (``seed`` for the whole demo, ``tenant`` for one company)."""
