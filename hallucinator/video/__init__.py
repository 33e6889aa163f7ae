"""Video dreaming: a clip dreamed frame by frame with the dream carried along the optical flow.

* :mod:`.options`  -- :class:`~.options.VideoOptions` and the temporal blend (:class:`~.options.BlendParams`)
* :mod:`.layout`   -- source frames to working frames: eyes, size, wrap-aware resize
* :mod:`.flow`     -- wrap-aware optical flow, warping, motion and occlusion masks
* :mod:`.chain`    -- each eye's chain: cold frames, carried frames, the engines
* :mod:`.cache`    -- pyramids, flows and dreamed frames on disk, under keys of what decides them
* :mod:`.sink`     -- the outputs (dream, control, PNG sequence), opened and closed together
* :mod:`.figures`  -- per-frame and per-clip figures, seam/pole figures, timings
* :mod:`.run`      -- :class:`~.run.VideoDreamer` and :func:`~.run.dream_video`: the loop and the sidecar
"""
