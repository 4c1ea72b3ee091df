"""Feed building: plain values in (``document``), bytes out (``render``), cached (``cache``)."""
