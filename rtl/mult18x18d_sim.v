// Behavioural model of the ECP5 MULT18X18D multiplier, for gate-level simulation of snnhw
// netlists.
//
// Why it exists: Yosys's ECP5 cell library has MULT18X18D only as a blackbox (share/ecp5/
// cells_bb.v) and cells_sim.v leaves it out, so a netlist whose multipliers were mapped onto
// DSP blocks (a direct-encoding layer's value x weight products) cannot be simulated. This is
// snnhw's own reading of the cell as Yosys's DSP mapping instantiates it (no parameters set,
// SOURCEA = SOURCEB = 0, SIGNEDA/SIGNEDB tied per operand): not Lattice's model, checked by
// tests/test_mult18.py against multiplications pushed through synth_ecp5.
//
// What it covers, and it stops the simulation on anything else: the combinational multiply
// (every REG_* parameter "NONE"), parallel inputs A and B (SOURCEA = SOURCEB = 0), each
// operand signed or unsigned per SIGNEDA / SIGNEDB, P = A * B over 36 bits. C, the clocks,
// clock enables and resets are accepted and unused.
`timescale 1ns / 1ps
module MULT18X18D (
  input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
  input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
  input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
  input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
  input CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
  output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19,
         P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0
);
  parameter REG_INPUTA_CLK = "NONE";
  parameter REG_INPUTB_CLK = "NONE";
  parameter REG_INPUTC_CLK = "NONE";
  parameter REG_PIPELINE_CLK = "NONE";
  parameter REG_OUTPUT_CLK = "NONE";
  parameter GSR = "ENABLED";
  parameter RESETMODE = "SYNC";

  wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
  wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
  wire signed [18:0] a_ext = {SIGNEDA & a[17], a};
  wire signed [18:0] b_ext = {SIGNEDB & b[17], b};
  wire signed [37:0] product = a_ext * b_ext;
  assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = product[35:0];

  initial begin
    if (REG_INPUTA_CLK != "NONE" || REG_INPUTB_CLK != "NONE" || REG_INPUTC_CLK != "NONE" ||
        REG_PIPELINE_CLK != "NONE" || REG_OUTPUT_CLK != "NONE") begin
      $display("MULT18X18D model: only the combinational multiply (REG_* = NONE) is modelled");
      $finish;
    end
  end
  always @* begin
    if (SOURCEA !== 1'b0 || SOURCEB !== 1'b0) begin
      $display("MULT18X18D model: only parallel inputs (SOURCEA = SOURCEB = 0) are modelled");
      $finish;
    end
  end
endmodule
