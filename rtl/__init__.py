"""Hand-written HDL support files (installed as ``snnhw.rtl``): the Verilator lint waivers."""
