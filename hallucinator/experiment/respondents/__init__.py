"""The participant as the steps see them: one interface, a person at the keyboard or a simulated one.

* :mod:`.base`       :class:`~.base.Respondent` (what a step may ask of a participant), :class:`~.base.Response`,
                     :class:`~.base.SessionAborted`
* :mod:`.human`      a person: the display's window, keyboard and mouse, times of the key presses
* :mod:`.simulated`  :class:`~..simulate.SimulatedParticipant` answering on the session clock (virtual or paced)
"""
