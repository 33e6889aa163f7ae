"""Lab sessions: protocols, counterbalancing, questionnaires, timing tasks, BIDS logs, LSL and analysis.

Layout, in the order a session uses it:

* :mod:`.protocol`       protocol TOML -> validated :class:`~.protocol.Protocol` -> per-participant schedule
* :mod:`.counterbalance` Latin-square (Williams) and full counterbalancing
* :mod:`.questionnaire`  questionnaire files, answers, dimension scores (incl. 11D-ASC scoring)
* :mod:`.plan`           a participant's order and schedule (:class:`~.plan.SessionPlan`)
* :mod:`.session_log`    resume state, the session's files, every row appended (:class:`~.session_log.SessionLog`)
* :mod:`.bids`           crash-safe BIDS-style writers and readers
* :mod:`.clock`          the session clock (LSL's) and the virtual clock of simulations
* :mod:`.lsl`            LSL marker and head-pose outlets
* :mod:`.steps`          one module per step type (instructions, rest, stimulus, questionnaire, timing task)
* :mod:`.timing`         interval production / reproduction as clock-driven state machines
* :mod:`.respondents`    who answers: a person at the display, or a simulated participant
* :mod:`.simulate`       the simulated participant's model (answers, key times, head motion)
* :mod:`.display`        what the steps need from a screen (GL window, or none)
* :mod:`.screens`        participant-facing screens rendered as images
* :mod:`.viewer_bridge`  the display on the viewer's window
* :mod:`.runner`         one session from start (or resume) to end
* :mod:`.analysis`       group tables; :mod:`.figures` their figures

The command line is :mod:`hallucinator.cli.experiment`.
"""
