"""``avis demo``: a synthetic French mutual insurer, six months of history, and a live trickle.

``company`` holds the simulation's hidden truth (sites, agents and their true
quality, journeys), ``answers`` and ``comments`` how its customers answer,
``generator`` loads the history through avis's own services and ``live``
keeps new interactions and answers arriving while the demo runs.
"""
