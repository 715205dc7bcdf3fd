"""The path stage: from visibility windows to end-to-end paths.

Per time step it joins terminal–satellite and satellite–gateway links (from the same
visibility windows the planner reads) and, in ``isl`` mode, +Grid inter-satellite links
into a graph weighted by delay, and finds each candidate serving satellite's shortest
path to the gateway that serves the correspondent, plus the fibre leg from there.
It imports only upstream stages (elements, propagate, geometry, visibility, sites);
the planner and the replay read its arrays (:class:`~sigma_sn.path.route.PathDelays`)
the way they read windows.
"""
