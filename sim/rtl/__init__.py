"""RTL simulation tooling: builds and runs the gateware under cocotb (``runner``), and
the RTL behind a socket for the host (``bridge``, its cocotb side ``cocotb_bridge``)."""
