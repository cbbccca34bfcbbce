/*
 * x86-64 decoding of the MOV family with a memory operand (mmio_decode.h). Written from the
 * instruction set's published encoding rules: legacy prefixes, then at most one REX (only when it
 * is the last prefix), the opcode, ModRM, an optional SIB, displacement and immediate.
 */
#include "mmio_decode.h"

#include <string.h>

struct cursor {
  const uint8_t *code;
  size_t avail, pos;
};

/* The next byte, or -1 past the end of what may be read. */
static int next(struct cursor *c) {
  if (c->pos >= c->avail || c->pos >= MMIO_INSN_MAX) return -1;
  return c->code[c->pos++];
}

/* A little-endian value of n bytes, sign-extended; 0 on success. */
static int next_signed(struct cursor *c, int n, int64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) {
    int b = next(c);
    if (b < 0) return -1;
    v |= (uint64_t)b << (8 * i);
  }
  if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~0ULL << (8 * n);
  *out = (int64_t)v;
  return 0;
}

/* ModRM, SIB and displacement of a memory operand; the ModRM reg field goes to *reg_field. */
static int modrm(struct cursor *c, int rex, struct mmio_insn *insn, int *reg_field) {
  int m = next(c);
  if (m < 0) return -1;
  int mod = m >> 6, rm = m & 7;
  if (mod == 3) return -1; /* a register operand: no memory access to emulate */
  *reg_field = ((m >> 3) & 7) | (rex & 4 ? 8 : 0);
  insn->mem.base = MMIO_NO_REG;
  insn->mem.index = MMIO_NO_REG;
  insn->mem.scale = 1;
  int disp_bytes = mod == 1 ? 1 : mod == 2 ? 4 : 0;
  if (rm == 4) {
    int sib = next(c);
    if (sib < 0) return -1;
    int index = ((sib >> 3) & 7) | (rex & 2 ? 8 : 0);
    if (index != MMIO_RSP) insn->mem.index = (int8_t)index; /* 100 without REX.X: no index */
    insn->mem.scale = (uint8_t)(1 << (sib >> 6));
    if ((sib & 7) == 5 && mod == 0) /* no base (also with REX.B): disp32 */
      disp_bytes = 4;
    else
      insn->mem.base = (int8_t)((sib & 7) | (rex & 1 ? 8 : 0));
  } else if (rm == 5 && mod == 0) { /* also with REX.B */
    insn->mem.rip_relative = 1;
    disp_bytes = 4;
  } else {
    insn->mem.base = (int8_t)(rm | (rex & 1 ? 8 : 0));
  }
  return disp_bytes ? next_signed(c, disp_bytes, &insn->mem.disp) : 0;
}

/* An immediate of n bytes, sign-extended and cut to width. */
static int immediate(struct cursor *c, int n, int width, uint64_t *out) {
  int64_t imm;
  if (next_signed(c, n, &imm) < 0) return -1;
  *out = width == 8 ? (uint64_t)imm : (uint64_t)imm & ((1ULL << (8 * width)) - 1);
  return 0;
}

/* The register operand of the ModRM reg field; without any REX, 8-bit numbers 4-7 are AH-BH. */
static void set_register(struct mmio_insn *insn, int reg, int width, int rex) {
  if (width == 1 && !rex && reg >= 4) {
    insn->high_byte = 1;
    reg -= 4;
  }
  insn->reg = (int8_t)reg;
}

/* The opcodes of ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST, INC, DEC, NOT, NEG, shifts and
   rotations (the ModRM reg field picks some of them). Even ones are the 8-bit forms. */
static int is_alu(int b) {
  return (b < 0x40 && (b & 7) < 4) || (b >= 0x80 && b <= 0x85 && b != 0x82) || b == 0xc0 || b == 0xc1 ||
         (b >= 0xd0 && b <= 0xd3) || b == 0xf6 || b == 0xf7 || b == 0xfe || b == 0xff;
}

static int decode_alu(struct cursor *c, int b, int opwidth, int rex, struct mmio_insn *insn) {
  int reg = 0;
  if (modrm(c, rex, insn, &reg) < 0) return -1;
  insn->width = insn->reg_width = (b & 1) ? (uint8_t)opwidth : 1;
  int imm_bytes = insn->width == 1 ? 1 : insn->width == 2 ? 2 : 4;
  if (b < 0x40) { /* op r/m, r (direction bit clear) or op r, r/m */
    insn->op = (uint8_t)(MMIO_ADD + (b >> 3));
    insn->reg_dest = (b & 2) != 0;
    set_register(insn, reg, insn->width, rex);
  } else if (b == 0x80 || b == 0x81 || b == 0x83) { /* op r/m, imm (83: imm8 sign-extended) */
    insn->op = (uint8_t)(MMIO_ADD + (reg & 7));
    if (immediate(c, b == 0x83 ? 1 : imm_bytes, insn->width, &insn->imm) < 0) return -1;
  } else if (b == 0x84 || b == 0x85) { /* TEST r/m, r */
    insn->op = MMIO_TEST;
    set_register(insn, reg, insn->width, rex);
  } else if (b == 0xf6 || b == 0xf7) {
    static const int8_t group3[8] = {MMIO_TEST, -1, MMIO_NOT, MMIO_NEG, -1, -1, -1, -1};
    if (group3[reg & 7] < 0) return -1; /* /1 (an undocumented TEST), MUL, IMUL, DIV, IDIV */
    insn->op = (uint8_t)group3[reg & 7];
    if (insn->op == MMIO_TEST && immediate(c, imm_bytes, insn->width, &insn->imm) < 0) return -1;
  } else if (b == 0xc0 || b == 0xc1 || (b >= 0xd0 && b <= 0xd3)) { /* by imm8, by 1, by CL */
    static const int8_t group2[8] = {MMIO_ROL, MMIO_ROR, MMIO_RCL, MMIO_RCR, MMIO_SHL, MMIO_SHR, -1, MMIO_SAR};
    if (group2[reg & 7] < 0) return -1; /* /6: an undocumented SHL */
    insn->op = (uint8_t)group2[reg & 7];
    if (b >= 0xd2)
      insn->reg = MMIO_RCX;
    else if (b >= 0xd0)
      insn->imm = 1;
    else if (immediate(c, 1, 1, &insn->imm) < 0)
      return -1;
  } else { /* FE, FF: only INC and DEC (the rest of FF is CALL, JMP, PUSH) */
    if ((reg & 7) > 1) return -1;
    insn->op = (reg & 7) ? MMIO_DEC : MMIO_INC;
  }
  insn->store = !insn->reg_dest && insn->op != MMIO_CMP && insn->op != MMIO_TEST;
  return 0;
}

/* The one-byte opcodes: MOV in its register, immediate and moffs forms, MOVSXD, the ALU. */
static int decode_one_byte(struct cursor *c, int b, int opsize16, int rex, struct mmio_insn *insn) {
  int opwidth = rex & 8 ? 8 : opsize16 ? 2 : 4;
  int reg = 0;
  if (is_alu(b)) return decode_alu(c, b, opwidth, rex, insn);
  switch (b) {
    case 0x88: /* MOV r/m8, r8 */
    case 0x8a: /* MOV r8, r/m8 */
      if (modrm(c, rex, insn, &reg) < 0) return -1;
      insn->store = b == 0x88;
      insn->width = insn->reg_width = 1;
      set_register(insn, reg, 1, rex);
      break;
    case 0x89: /* MOV r/m, r */
    case 0x8b: /* MOV r, r/m */
      if (modrm(c, rex, insn, &reg) < 0) return -1;
      insn->store = b == 0x89;
      insn->width = insn->reg_width = (uint8_t)opwidth;
      insn->reg = (int8_t)reg;
      break;
    case 0x63:                               /* MOVSXD r64, r/m32 (without REX.W: a plain 32-bit load) */
      if (opsize16 && !(rex & 8)) return -1; /* the 16-bit form: left alone */
      if (modrm(c, rex, insn, &reg) < 0) return -1;
      insn->width = 4;
      insn->reg_width = (uint8_t)opwidth;
      insn->sign_extend = 1;
      insn->reg = (int8_t)reg;
      break;
    case 0xc6: /* MOV r/m8, imm8 */
    case 0xc7: /* MOV r/m, imm16/imm32 (sign-extended to 64 with REX.W) */
      if (modrm(c, rex, insn, &reg) < 0) return -1;
      if ((reg & 7) != 0) return -1;
      insn->store = 1;
      insn->width = b == 0xc6 ? 1 : (uint8_t)opwidth;
      if (immediate(c, insn->width == 8 ? 4 : insn->width, insn->width, &insn->imm) < 0) return -1;
      break;
    case 0xa0: /* MOV AL, moffs8 */
    case 0xa1: /* MOV rAX, moffs */
    case 0xa2: /* MOV moffs8, AL */
    case 0xa3: /* MOV moffs, rAX */
      insn->store = b >= 0xa2;
      insn->width = insn->reg_width = (b & 1) ? (uint8_t)opwidth : 1;
      insn->reg = MMIO_RAX;
      insn->mem.base = insn->mem.index = MMIO_NO_REG;
      insn->mem.scale = 1;
      if (next_signed(c, insn->mem.addr32 ? 4 : 8, &insn->mem.disp) < 0) return -1;
      if (insn->mem.addr32) insn->mem.disp &= 0xffffffff;
      break;
    default:
      return -1;
  }
  return 0;
}

/* The two-byte opcodes 0F xx: MOVZX, MOVSX, MOVNTI and the SSE moves MOVD/MOVQ. */
static int decode_0f(struct cursor *c, int opsize16, int rep, int rex, struct mmio_insn *insn) {
  int b = next(c), reg = 0;
  int opwidth = rex & 8 ? 8 : opsize16 ? 2 : 4;
  int sse = b == 0x6e || b == 0x7e || b == 0xd6;
  if (rep && !(b == 0x7e && rep == 0xf3)) return -1;
  if (sse && opsize16 == (rep != 0)) return -1; /* exactly one of 66 and F3: not MMX, not both */
  if (b < 0 || modrm(c, rex, insn, &reg) < 0) return -1;
  insn->reg = (int8_t)reg;
  switch (b) {
    case 0xb6: /* MOVZX r, r/m8 */
    case 0xb7: /* MOVZX r, r/m16 */
    case 0xbe: /* MOVSX r, r/m8 */
    case 0xbf: /* MOVSX r, r/m16 */
      insn->width = (b & 1) ? 2 : 1;
      insn->reg_width = (uint8_t)opwidth;
      insn->sign_extend = b >= 0xbe;
      break;
    case 0xc3: /* MOVNTI m32/m64, r32/r64 */
      if (opsize16) return -1;
      insn->store = 1;
      insn->width = insn->reg_width = (uint8_t)opwidth;
      break;
    case 0x6e: /* 66 0F 6E: MOVD/MOVQ xmm, r/m32/64 */
    case 0x7e: /* F3 0F 7E: MOVQ xmm, m64; 66 0F 7E: MOVD/MOVQ r/m32/64, xmm */
    case 0xd6: /* 66 0F D6: MOVQ m64, xmm */
      insn->xmm = 1;
      insn->store = b == 0xd6 || (b == 0x7e && !rep);
      insn->width = b == 0xd6 || rep || (rex & 8) ? 8 : 4;
      insn->reg_width = insn->store ? insn->width : 16;
      break;
    default:
      return -1;
  }
  return 0;
}

int mmio_decode(const uint8_t *code, size_t avail, struct mmio_insn *out) {
  struct cursor c = {code, avail, 0};
  struct mmio_insn insn;
  memset(&insn, 0, sizeof insn);
  int opsize16 = 0, rep = 0, lock = 0, rex = 0, b;

  for (;;) {
    b = next(&c);
    if (b < 0) return -1;
    if (b == 0x66) {
      opsize16 = 1;
    } else if (b == 0x67) {
      insn.mem.addr32 = 1;
    } else if (b == 0x64) {
      insn.mem.segment = MMIO_SEG_FS;
    } else if (b == 0x65) {
      insn.mem.segment = MMIO_SEG_GS;
    } else if (b == 0xf2 || b == 0xf3) {
      rep = b; /* part of the opcode for SSE moves, refused on the others */
    } else if (b == 0xf0) {
      lock = 1;
    } else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e) {
      insn.mem.segment = MMIO_SEG_DEFAULT; /* the last segment prefix counts; these are flat */
    } else if ((b & 0xf0) == 0x40) {
      rex = b; /* takes effect only if the opcode follows right away */
      b = next(&c);
      if (b < 0) return -1;
      if (b == 0x66 || b == 0x67 || b == 0x64 || b == 0x65 || b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e ||
          b == 0xf0 || b == 0xf2 || b == 0xf3 || (b & 0xf0) == 0x40) {
        rex = 0; /* a prefix after REX: the REX is ignored */
        c.pos--;
        continue;
      }
      break;
    } else {
      break;
    }
  }

  if (lock) return -1; /* #UD on a MOV; an atomic operation on MMIO has no exact emulation */
  insn.reg = MMIO_NO_REG;
  if (b == 0x0f) {
    if (decode_0f(&c, opsize16, rep, rex, &insn) < 0) return -1;
  } else if (rep) { /* XACQUIRE/XRELEASE and REP: refused rather than ignored */
    return -1;
  } else if (decode_one_byte(&c, b, opsize16, rex, &insn) < 0) {
    return -1;
  }
  insn.length = (uint8_t)c.pos;
  *out = insn;
  return 0;
}
