"""Scale-out: a video cut into chunks dreamed as Ray tasks, assembled in order (see docs/scale-out.md).

* :mod:`.options` — :class:`ScaleOptions`, the command line's ``--ray``, ``--workers``, ``--chunk-frames`` ...
* :mod:`.chunks` — the chunk plan: where chunks start (scene cuts, every N frames), their warm-up, the fade.
* :mod:`.tasks` — one chunk dreamed in a worker process (:func:`~.tasks.run_chunk`).
* :mod:`.raybridge` — importing, starting or joining Ray, the remote task, progress, errors.
* :mod:`.driver` — the whole job: plan, dispatch, assemble with audio and control, the sidecar.
* :mod:`.continuity` — the warping error added across chunk boundaries against inside chunks.
"""
