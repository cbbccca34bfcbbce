/*
 * A decoder for the x86-64 instructions that access one value in memory: what compilers emit for
 * volatile MMIO accesses. It answers what a trap handler needs to perform the access itself and
 * step over the instruction: length, width, operation, direction, register or immediate, how a
 * load widens, and the memory operand (to check it against the fault address).
 *
 * Supported (anything else is refused, nothing is guessed):
 *   88/89 MOV m,r    8A/8B MOV r,m    C6 /0, C7 /0 MOV m,imm    A0-A3 MOV with a moffs
 *   0F B6/B7 MOVZX   0F BE/BF MOVSX   63 MOVSXD                 0F C3 MOVNTI
 *   SSE: 66 0F 6E MOVD/MOVQ xmm,m   F3 0F 7E MOVQ xmm,m   66 0F 7E MOVD/MOVQ m,xmm   66 0F D6 MOVQ m,xmm
 *   ALU with memory, as LLVM folds volatile accesses (Rust's read_volatile/write_volatile, clang):
 *   00-3B ADD/OR/ADC/SBB/AND/SUB/XOR/CMP m,r and r,m   80/81/83 the same with an immediate
 *   84/85 TEST m,r   F6/F7 /0 TEST m,imm, /2 NOT, /3 NEG   FE/FF /0 INC, /1 DEC
 *   C0/C1/D0-D3 ROL/ROR/RCL/RCR/SHL/SHR/SAR by an immediate, by 1 or by CL
 * with the prefixes 66 (16-bit operand), 67 (32-bit address), segment overrides, REX.W/R/X/B.
 * Not supported: other SSE and all AVX moves (16 bytes and more, MOVSS, VEX/EVEX), MMX, string
 * instructions, XCHG/XADD/CMPXCHG, BT*, SHLD/SHRD, MUL/DIV, CMOVcc, SETcc, PUSH/POP with memory, any
 * LOCK/REP/XACQUIRE/XRELEASE prefix, register-only forms.
 */
#ifndef IOMMUFD4J_MMIO_DECODE_H
#define IOMMUFD4J_MMIO_DECODE_H

#if !defined(__x86_64__) || !defined(__linux__)
#error "MMIO trapping decodes x86-64 instructions: it builds only for x86-64 Linux"
#endif

#include <stddef.h>
#include <stdint.h>

/* Longest x86 instruction. */
#define MMIO_INSN_MAX 15

/* General-purpose registers in encoding order (the REX bit is bit 3). */
enum mmio_reg {
  MMIO_RAX,
  MMIO_RCX,
  MMIO_RDX,
  MMIO_RBX,
  MMIO_RSP,
  MMIO_RBP,
  MMIO_RSI,
  MMIO_RDI,
  MMIO_R8,
  MMIO_R9,
  MMIO_R10,
  MMIO_R11,
  MMIO_R12,
  MMIO_R13,
  MMIO_R14,
  MMIO_R15,
  MMIO_NO_REG = -1
};

enum mmio_segment { MMIO_SEG_DEFAULT, MMIO_SEG_FS, MMIO_SEG_GS }; /* ES/CS/SS/DS: base 0 */

/* What the instruction does with the value in memory. */
enum mmio_op {
  MMIO_MOV, /* a load or a store */
  MMIO_ADD,
  MMIO_OR,
  MMIO_ADC,
  MMIO_SBB,
  MMIO_AND,
  MMIO_SUB,
  MMIO_XOR,
  MMIO_CMP, /* encoding order */
  MMIO_TEST,
  MMIO_INC,
  MMIO_DEC,
  MMIO_NOT,
  MMIO_NEG,
  MMIO_ROL,
  MMIO_ROR,
  MMIO_RCL,
  MMIO_RCR,
  MMIO_SHL,
  MMIO_SHR,
  MMIO_SAR
};

/*
 * MOV: a load (memory to reg) or a store (reg or imm to memory).
 * Other operations: memory is read and combined with reg, imm (reg is MMIO_NO_REG) or nothing
 * (INC, DEC, NOT, NEG); shifts and rotations by CL have reg RCX; the result goes to memory
 * (store), to reg (reg_dest), or, for CMP and TEST, nowhere: they only set flags.
 */
struct mmio_insn {
  uint8_t length;      /* bytes of the instruction */
  uint8_t op;          /* enum mmio_op */
  uint8_t width;       /* bytes accessed in memory: 1, 2, 4 or 8 */
  uint8_t store;       /* memory is written */
  uint8_t reg_dest;    /* an ALU result goes to reg */
  int8_t reg;          /* enum mmio_reg, or XMM0-15 with xmm; MMIO_NO_REG: no register operand */
  uint8_t xmm;         /* reg is an XMM register */
  uint8_t high_byte;   /* reg is RAX..RBX and the operand is AH, CH, DH or BH */
  uint8_t reg_width;   /* a load writes this many bytes of reg (>= width): 1, 2, 4, 8, or 16 for an
                          XMM register (zeroed above width) */
  uint8_t sign_extend; /* a load widens width to reg_width with sign, not zero, extension */
  uint64_t imm;        /* the immediate operand, already extended to width */

  /* The memory operand: segment base + [base + index * scale + disp], or moffs, or
     next instruction + disp; truncated to 32 bits with addr32. */
  struct {
    int8_t base, index; /* enum mmio_reg or MMIO_NO_REG */
    uint8_t scale;      /* 1, 2, 4, 8 */
    uint8_t rip_relative, addr32, segment;
    int64_t disp; /* displacement, or the absolute moffs */
  } mem;
};

/*
 * Decodes the instruction at code, reading at most avail bytes (and never more than the
 * instruction's own). Returns 0 with *out filled in, or -1 when the instruction is not a
 * supported memory access or is longer than avail; *out is then unspecified.
 */
int mmio_decode(const uint8_t *code, size_t avail, struct mmio_insn *out);

#endif
