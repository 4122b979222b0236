"""cocotb testbenches (installed as ``snnhw.sim``; copied into every build bundle)."""
