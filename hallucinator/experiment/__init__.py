"""Lab sessions: protocols, counterbalancing, questionnaires, timing tasks, BIDS logs, LSL and analysis.

Layout:

* :mod:`.protocol`      protocol TOML -> validated :class:`Protocol` -> per-participant schedule
* :mod:`.counterbalance` Latin-square (Williams) and full counterbalancing
* :mod:`.questionnaire` questionnaire files, answers, dimension scores (incl. 11D-ASC scoring)
* :mod:`.timing`        interval production / reproduction as clock-driven state machines
* :mod:`.bids`          crash-safe BIDS-style writers and readers
* :mod:`.lsl`           LSL marker and head-pose outlets, clock offsets
* :mod:`.simulate`      the simulated participant
* :mod:`.display`       what the runner needs from a screen (GL window, or none)
* :mod:`.runner`        one session from start (or resume) to end
* :mod:`.analysis`      group tables and figures
* :mod:`.cli`           ``hallucinator experiment ...``
"""
