"""A hostpath-style reference CSI driver (spec v1.12) serving on a UNIX socket.

Start it with ``python -m reference_impl.csi --endpoint unix:///run/csi.sock --state-dir DIR
--node-id NAME``. Mount volumes are directories bind-mounted on stage and publish; block
volumes are sparse image files on loop devices. State survives restarts (``state.json``).
"""
