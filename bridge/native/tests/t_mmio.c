/*
 * The MMIO trap (mmio_decode.c, mmio_trap.c), needing no server:
 *  - the decoder on instructions assembled by GNU as at build time: every supported form with
 *    every register, every addressing form and prefix, and instructions it must refuse;
 *  - live accesses through PROT_NONE pages trapped with a register-file device: each form run on
 *    each register with random register contents, checking the model saw the exact access, the
 *    destination got x86-64's result and every other register kept its value; each ALU form run
 *    trapped and on ordinary memory, which must agree on registers, flags and memory;
 *  - SIGSEGV staying the program's (handlers installed before and after the trap, signal(),
 *    SA_RESETHAND, SIG_DFL, SIG_IGN, sent signals), refused accesses (reported, then SIGSEGV),
 *    threads hammering trapped registers while another adds and removes a range, and removal
 *    waiting for a handler still in the model.
 * `t_mmio bench [N]` prints the median cost of one trapped 4-byte load instead.
 * T_SEED=n repeats a run's random choices.
 */
#include "t.h" /* first: it defines _GNU_SOURCE */

#include <asm/prctl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>

#include "../mmio_decode.h"
#include "../mmio_trap.h"

#define PAGE 4096
#define NO MMIO_NO_REG
#define DEF MMIO_SEG_DEFAULT

/* ---- instructions assembled by the build ------------------------------------------------- */

/* Each case is assembled into <table>_code; <table>_index gets {offset, length} for it, so the
   decoder is checked against the assembler's own lengths. */
#define EMIT(table, text) \
  ".pushsection " table##_SECTION "\n1:\t" text \
                                  "\n2:\n.popsection\n" \
                                  ".pushsection .rodata." #table "_index,\"a\"\n\t.long 1b - " #table \
                                  "_code, 2b - 1b\n.popsection\n"
#define TABLE_START(table) \
  ".pushsection " table##_SECTION "\n" #table \
                                  "_code:\n.popsection\n" \
                                  ".pushsection .rodata." #table "_index,\"a\"\n.balign 4\n" #table \
                                  "_index:\n.popsection\n"
#define forms_SECTION ".rodata.forms_code,\"a\""
#define refused_SECTION ".rodata.refused_code,\"a\""
#define alus_SECTION ".rodata.alus_code,\"a\""
#define alu_runs_SECTION ".text.alu_runs_code,\"ax\""
#define runs_SECTION ".text.runs_code,\"ax\""
#define TABLE_END(table) ".pushsection .rodata." #table "_index,\"a\"\n" #table "_index_end:\n.popsection\n"
struct span {
  uint32_t offset, length;
};
#define DECLARE_TABLE(table) \
  extern const uint8_t table##_code[]; \
  extern const struct span table##_index[], table##_index_end[];

/* Registers by encoding number: 64, 32, 16 and 8-bit names, and a base register other than it
   (name and number). */
#define EACH_REG(C, M) \
  M(C, MMIO_RAX, "rax", "eax", "ax", "al", "rbx", MMIO_RBX) \
  M(C, MMIO_RCX, "rcx", "ecx", "cx", "cl", "rbx", MMIO_RBX) \
  M(C, MMIO_RDX, "rdx", "edx", "dx", "dl", "rbx", MMIO_RBX) \
  M(C, MMIO_RBX, "rbx", "ebx", "bx", "bl", "r12", MMIO_R12) \
  M(C, MMIO_RBP, "rbp", "ebp", "bp", "bpl", "rbx", MMIO_RBX) \
  M(C, MMIO_RSI, "rsi", "esi", "si", "sil", "rbx", MMIO_RBX) \
  M(C, MMIO_RDI, "rdi", "edi", "di", "dil", "rbx", MMIO_RBX) \
  M(C, MMIO_R8, "r8", "r8d", "r8w", "r8b", "rbx", MMIO_RBX) \
  M(C, MMIO_R9, "r9", "r9d", "r9w", "r9b", "rbx", MMIO_RBX) \
  M(C, MMIO_R10, "r10", "r10d", "r10w", "r10b", "rbx", MMIO_RBX) \
  M(C, MMIO_R11, "r11", "r11d", "r11w", "r11b", "rbx", MMIO_RBX) \
  M(C, MMIO_R12, "r12", "r12d", "r12w", "r12b", "rbx", MMIO_RBX) \
  M(C, MMIO_R13, "r13", "r13d", "r13w", "r13b", "rbx", MMIO_RBX) \
  M(C, MMIO_R14, "r14", "r14d", "r14w", "r14b", "rbx", MMIO_RBX) \
  M(C, MMIO_R15, "r15", "r15d", "r15w", "r15b", "rbx", MMIO_RBX)

/*
 * A case: C(text, width, store, reg, high_byte, reg_width, sign_extend, imm, base, index, scale,
 * disp, rip_relative, addr32, segment). B(r) is the operand (%r) with r a base register.
 */
#define B(r) r, NO, 1, 0, 0, 0, DEF
#define XMM(n) (16 + (n)) /* reg of an XMM register in these tables */
#define REG_FORMS(C, n, q, d, w, b, a, an) \
  C("mov (%" a "), %" q, 8, 0, n, 0, 8, 0, 0, B(an)) \
  C("mov (%" a "), %" d, 4, 0, n, 0, 4, 0, 0, B(an)) \
  C("mov (%" a "), %" w, 2, 0, n, 0, 2, 0, 0, B(an)) \
  C("mov (%" a "), %" b, 1, 0, n, 0, 1, 0, 0, B(an)) \
  C("mov %" q ", (%" a ")", 8, 1, n, 0, 8, 0, 0, B(an)) \
  C("mov %" d ", (%" a ")", 4, 1, n, 0, 4, 0, 0, B(an)) \
  C("mov %" w ", (%" a ")", 2, 1, n, 0, 2, 0, 0, B(an)) \
  C("mov %" b ", (%" a ")", 1, 1, n, 0, 1, 0, 0, B(an)) \
  C("movzbw (%" a "), %" w, 1, 0, n, 0, 2, 0, 0, B(an)) \
  C("movzbl (%" a "), %" d, 1, 0, n, 0, 4, 0, 0, B(an)) \
  C("movzwq (%" a "), %" q, 2, 0, n, 0, 8, 0, 0, B(an)) \
  C("movsbw (%" a "), %" w, 1, 0, n, 0, 2, 1, 0, B(an)) \
  C("movsbq (%" a "), %" q, 1, 0, n, 0, 8, 1, 0, B(an)) \
  C("movswl (%" a "), %" d, 2, 0, n, 0, 4, 1, 0, B(an)) \
  C("movslq (%" a "), %" q, 4, 0, n, 0, 8, 1, 0, B(an)) \
  C("movnti %" d ", (%" a ")", 4, 1, n, 0, 4, 0, 0, B(an)) \
  C("movnti %" q ", (%" a ")", 8, 1, n, 0, 8, 0, 0, B(an))

/* Forms run on one register, or with immediates, prefixes and every addressing form. */
#define OTHER_FORMS(C) \
  C("mov (%rbx), %ah", 1, 0, MMIO_RAX, 1, 1, 0, 0, B(MMIO_RBX)) \
  C("mov (%rsi), %ch", 1, 0, MMIO_RCX, 1, 1, 0, 0, B(MMIO_RSI)) \
  C("mov (%rbx), %dh", 1, 0, MMIO_RDX, 1, 1, 0, 0, B(MMIO_RBX)) \
  C("mov (%rsi), %bh", 1, 0, MMIO_RBX, 1, 1, 0, 0, B(MMIO_RSI)) \
  C("mov %ah, (%rbx)", 1, 1, MMIO_RAX, 1, 1, 0, 0, B(MMIO_RBX)) \
  C("mov %ch, (%rbx)", 1, 1, MMIO_RCX, 1, 1, 0, 0, B(MMIO_RBX)) \
  C("mov %dh, (%rbx)", 1, 1, MMIO_RDX, 1, 1, 0, 0, B(MMIO_RBX)) \
  C("mov %bh, (%rsi)", 1, 1, MMIO_RBX, 1, 1, 0, 0, B(MMIO_RSI)) \
  C("movb $0xa5, (%rbx)", 1, 1, NO, 0, 0, 0, 0xa5, B(MMIO_RBX)) \
  C("movw $0xbeef, (%rbx)", 2, 1, NO, 0, 0, 0, 0xbeef, B(MMIO_RBX)) \
  C("movl $0x89abcdef, (%rbx)", 4, 1, NO, 0, 0, 0, 0x89abcdef, B(MMIO_RBX)) \
  C("movq $-2, (%rbx)", 8, 1, NO, 0, 0, 0, 0xfffffffffffffffe, B(MMIO_RBX)) \
  C("movq $0x7fffffff, (%rbx)", 8, 1, NO, 0, 0, 0, 0x7fffffff, B(MMIO_RBX)) \
  C("movl $0x11223344, 0x18(%rbx,%rcx,4)", 4, 1, NO, 0, 0, 0, 0x11223344, MMIO_RBX, MMIO_RCX, 4, 0x18, 0, 0, DEF) \
  C("movw $0x1234, 0x100(%rip)", 2, 1, NO, 0, 0, 0, 0x1234, NO, NO, 1, 0x100, 1, 0, DEF) \
  C("movzbl (%rbx), %esp", 1, 0, MMIO_RSP, 0, 4, 0, 0, B(MMIO_RBX)) \
  C("movswq (%rbx), %r15", 2, 0, MMIO_R15, 0, 8, 1, 0, B(MMIO_RBX)) \
  C("movzwl (%rbx), %r9d", 2, 0, MMIO_R9, 0, 4, 0, 0, B(MMIO_RBX)) \
  C("movsbl (%rbx), %r10d", 1, 0, MMIO_R10, 0, 4, 1, 0, B(MMIO_RBX)) \
  C("movzbq (%rbx), %r11", 1, 0, MMIO_R11, 0, 8, 0, 0, B(MMIO_RBX)) \
  C(".byte 0x66, 0x44, 0x0f, 0xb7, 0x23", 2, 0, MMIO_R12, 0, 2, 0, 0, B(MMIO_RBX)) /* r12w */ \
  C(".byte 0x66, 0x44, 0x0f, 0xbf, 0x2b", 2, 0, MMIO_R13, 0, 2, 1, 0, B(MMIO_RBX)) /* r13w */ \
  C("movslq (%rbx), %rsp", 4, 0, MMIO_RSP, 0, 8, 1, 0, B(MMIO_RBX)) \
  C(".byte 0x63, 0x0b", 4, 0, MMIO_RCX, 0, 4, 1, 0, B(MMIO_RBX)) /* MOVSXD without W */ \
  C("mov (%rax), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, B(MMIO_RAX)) \
  C("mov (%rsp), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, B(MMIO_RSP)) \
  C("mov (%rbp), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, B(MMIO_RBP)) \
  C("mov (%r12), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, B(MMIO_R12)) \
  C("mov (%r13), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, B(MMIO_R13)) \
  C("mov 0x12(%rbx), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, MMIO_RBX, NO, 1, 0x12, 0, 0, DEF) \
  C("mov -0x80(%rbx), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, MMIO_RBX, NO, 1, -0x80, 0, 0, DEF) \
  C("mov 0x80(%rbx), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, MMIO_RBX, NO, 1, 0x80, 0, 0, DEF) \
  C("mov 0x12345678(%r9), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, MMIO_R9, NO, 1, 0x12345678, 0, 0, DEF) \
  C("mov -0x12345678(%r10), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, MMIO_R10, NO, 1, -0x12345678, 0, 0, DEF) \
  C("mov (%rbx,%rcx,4), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, MMIO_RBX, MMIO_RCX, 4, 0, 0, 0, DEF) \
  C("mov 0x10(%rbx,%r9,8), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, MMIO_RBX, MMIO_R9, 8, 0x10, 0, 0, DEF) \
  C("mov (%r13,%r14,1), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, MMIO_R13, MMIO_R14, 1, 0, 0, 0, DEF) \
  C("mov (%rsp,%rbp,2), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, MMIO_RSP, MMIO_RBP, 2, 0, 0, 0, DEF) \
  C("mov 0x1000(,%rcx,2), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, NO, MMIO_RCX, 2, 0x1000, 0, 0, DEF) \
  C("mov 0x1000(,%r15,8), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, NO, MMIO_R15, 8, 0x1000, 0, 0, DEF) \
  C("mov 0x12345678, %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, NO, NO, 1, 0x12345678, 0, 0, DEF) \
  C("mov 0x100(%rip), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, NO, NO, 1, 0x100, 1, 0, DEF) \
  C("mov -0x100(%rip), %r8", 8, 0, MMIO_R8, 0, 8, 0, 0, NO, NO, 1, -0x100, 1, 0, DEF) \
  C("mov 0x100(%eip), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, NO, NO, 1, 0x100, 1, 1, DEF) \
  C("mov %fs:0x28, %rcx", 8, 0, MMIO_RCX, 0, 8, 0, 0, NO, NO, 1, 0x28, 0, 0, MMIO_SEG_FS) \
  C("mov %gs:(%rax), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, MMIO_RAX, NO, 1, 0, 0, 0, MMIO_SEG_GS) \
  C(".byte 0x26, 0x8b, 0x08", 4, 0, MMIO_RCX, 0, 4, 0, 0, B(MMIO_RAX))       /* ES: */ \
  C(".byte 0x64, 0x3e, 0x8b, 0x08", 4, 0, MMIO_RCX, 0, 4, 0, 0, B(MMIO_RAX)) /* FS: DS: */ \
  C("mov (%eax), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, MMIO_RAX, NO, 1, 0, 0, 1, DEF) \
  C("mov 0x10(%r8d,%r9d,4), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, MMIO_R8, MMIO_R9, 4, 0x10, 0, 1, DEF) \
  C("movabs 0x1122334455667788, %eax", 4, 0, MMIO_RAX, 0, 4, 0, 0, NO, NO, 1, 0x1122334455667788, 0, 0, DEF) \
  C("movabs 0x8877665544332211, %rax", 8, 0, MMIO_RAX, 0, 8, 0, 0, NO, NO, 1, (int64_t)0x8877665544332211, 0, 0, DEF) \
  C("movabs 0x1122334455667788, %ax", 2, 0, MMIO_RAX, 0, 2, 0, 0, NO, NO, 1, 0x1122334455667788, 0, 0, DEF) \
  C("movabs 0x1122334455667788, %al", 1, 0, MMIO_RAX, 0, 1, 0, 0, NO, NO, 1, 0x1122334455667788, 0, 0, DEF) \
  C("movabs %al, 0x1122334455667788", 1, 1, MMIO_RAX, 0, 1, 0, 0, NO, NO, 1, 0x1122334455667788, 0, 0, DEF) \
  C("movabs %rax, 0x1122334455667788", 8, 1, MMIO_RAX, 0, 8, 0, 0, NO, NO, 1, 0x1122334455667788, 0, 0, DEF) \
  C(".byte 0x67, 0xa1, 0x44, 0x33, 0x22, 0x11", 4, 0, MMIO_RAX, 0, 4, 0, 0, NO, NO, 1, 0x11223344, 0, 1, DEF) \
  C(".byte 0x64, 0xa3; .quad 0x10", 4, 1, MMIO_RAX, 0, 4, 0, 0, NO, NO, 1, 0x10, 0, 0, MMIO_SEG_FS) \
  C(".byte 0x48, 0x66, 0x8b, 0x03", 2, 0, MMIO_RAX, 0, 2, 0, 0, B(MMIO_RBX)) /* REX lost */ \
  C(".byte 0x66, 0x48, 0x8b, 0x03", 8, 0, MMIO_RAX, 0, 8, 0, 0, B(MMIO_RBX)) /* W wins */ \
  C(".byte 0x41, 0x40, 0x8a, 0x23", 1, 0, MMIO_RSP, 0, 1, 0, 0, B(MMIO_RBX)) /* last REX */ \
  C(".byte 0x41, 0x3e, 0x8a, 0x23", 1, 0, MMIO_RAX, 1, 1, 0, 0, B(MMIO_RBX)) /* AH again */ \
  C("data16 movnti %eax, (%rbx)", -1, 0, 0, 0, 0, 0, 0, B(MMIO_RBX))         /* refused */ \
  C("movd (%rbx), %xmm0", 4, 0, XMM(0), 0, 16, 0, 0, B(MMIO_RBX)) \
  C("movd (%r12), %xmm15", 4, 0, XMM(15), 0, 16, 0, 0, B(MMIO_R12)) \
  C("movq (%rbx), %xmm3", 8, 0, XMM(3), 0, 16, 0, 0, B(MMIO_RBX)) \
  C("movq %xmm9, 8(%rbx)", 8, 1, XMM(9), 0, 8, 0, 0, MMIO_RBX, NO, 1, 8, 0, 0, DEF) \
  C("movd %xmm2, (%rbx,%rax,2)", 4, 1, XMM(2), 0, 4, 0, 0, MMIO_RBX, MMIO_RAX, 2, 0, 0, 0, DEF) \
  C(".byte 0x66, 0x48, 0x0f, 0x6e, 0x03", 8, 0, XMM(0), 0, 16, 0, 0, B(MMIO_RBX)) \
  C(".byte 0x66, 0x4c, 0x0f, 0x7e, 0x03", 8, 1, XMM(8), 0, 8, 0, 0, B(MMIO_RBX)) \
  C(".byte 0xf3, 0x48, 0x0f, 0x7e, 0x03", 8, 0, XMM(0), 0, 16, 0, 0, B(MMIO_RBX))

/* Instructions that touch memory but are not emulated, or do not touch it at all. */
#define REFUSED(X) \
  X("xchg %eax, (%rbx)") \
  X("xadd %eax, (%rbx)") \
  X("cmpxchg %ecx, (%rbx)") \
  X("btl $3, (%rbx)") \
  X("shldl $3, %eax, (%rbx)") \
  X(".byte 0xd1, 0x33") /* D1 /6 */ \
  X("mull (%rbx)") \
  X("imul (%rbx), %eax") \
  X("lock addl $1, (%rbx)") \
  X("sete (%rbx)") \
  X("call *(%rbx)") \
  X("jmp *(%rbx)") \
  X("add $1, %eax") \
  X("add %eax, %ecx") \
  X(".byte 0xf7, 0x0b, 1, 0, 0, 0") /* F7 /1 */ \
  X(".byte 0x82, 0x03, 0x01")       /* invalid in 64-bit */ \
  X("lock orl $1, (%rbx)") \
  X("push (%rbx)") \
  X("rep movsb") \
  X("movsl") \
  X("movd (%rbx), %mm0") \
  X("movq %mm1, (%rbx)") \
  X("movups (%rbx), %xmm0") \
  X("movdqa %xmm0, (%rbx)") \
  X("movss (%rbx), %xmm0") \
  X("movsd %xmm0, (%rbx)") \
  X("movd %xmm0, %eax") \
  X("vmovd (%rbx), %xmm0") \
  X("vmovq %xmm0, (%rbx)") \
  X(".byte 0x66, 0xf3, 0x0f, 0x7e, 0x03") /* 66 and F3 */ \
  X(".byte 0xf2, 0x0f, 0x7e, 0x03") \
  X("mov %eax, %ebx") \
  X("movzbl %al, %eax") \
  X("cmovz (%rbx), %eax") \
  X("lea (%rbx), %rax") \
  X(".byte 0xf3, 0x89, 0x03")              /* XRELEASE mov */ \
  X(".byte 0xf0, 0x89, 0x03")              /* LOCK mov: #UD */ \
  X(".byte 0xc6, 0x0b, 0x01")              /* C6 /1 */ \
  X(".byte 0xc7, 0xf8, 0, 0, 0, 0")        /* XBEGIN, not a store */ \
  X(".byte 0x66, 0x63, 0x03")              /* 16-bit MOVSXD */ \
  X(".byte 0x66, 0x0f, 0xc3, 0x03")        /* no 16-bit MOVNTI */ \
  X(".fill 14, 1, 0x66; .byte 0x8b, 0x03") /* 16 bytes */ \
  X("nop") \
  X("ret")

/* ALU cases: A(text, op, width, store, reg, high_byte, reg_dest, imm, memory operand as in C). */
#define ALU_FORMS(A) \
  A("add %ecx, (%rbx)", MMIO_ADD, 4, 1, MMIO_RCX, 0, 0, 0, B(MMIO_RBX)) \
  A("add (%rbx), %ecx", MMIO_ADD, 4, 0, MMIO_RCX, 0, 1, 0, B(MMIO_RBX)) \
  A("or %r9, (%rbx)", MMIO_OR, 8, 1, MMIO_R9, 0, 0, 0, B(MMIO_RBX)) \
  A("or (%rbx), %r9", MMIO_OR, 8, 0, MMIO_R9, 0, 1, 0, B(MMIO_RBX)) \
  A("adc %dl, (%rbx)", MMIO_ADC, 1, 1, MMIO_RDX, 0, 0, 0, B(MMIO_RBX)) \
  A("adc (%rbx), %r14", MMIO_ADC, 8, 0, MMIO_R14, 0, 1, 0, B(MMIO_RBX)) \
  A("sbb (%rbx), %ah", MMIO_SBB, 1, 0, MMIO_RAX, 1, 1, 0, B(MMIO_RBX)) \
  A("sbb %bh, (%rsi)", MMIO_SBB, 1, 1, MMIO_RBX, 1, 0, 0, B(MMIO_RSI)) \
  A("and %si, (%rbx)", MMIO_AND, 2, 1, MMIO_RSI, 0, 0, 0, B(MMIO_RBX)) \
  A("and (%rbx), %r15w", MMIO_AND, 2, 0, MMIO_R15, 0, 1, 0, B(MMIO_RBX)) \
  A("sub %r12d, (%rbx)", MMIO_SUB, 4, 1, MMIO_R12, 0, 0, 0, B(MMIO_RBX)) \
  A("sub (%rbx), %r13b", MMIO_SUB, 1, 0, MMIO_R13, 0, 1, 0, B(MMIO_RBX)) \
  A("xor %dil, (%rbx)", MMIO_XOR, 1, 1, MMIO_RDI, 0, 0, 0, B(MMIO_RBX)) \
  A("xor (%rbx), %rax", MMIO_XOR, 8, 0, MMIO_RAX, 0, 1, 0, B(MMIO_RBX)) \
  A("cmp %eax, (%rbx)", MMIO_CMP, 4, 0, MMIO_RAX, 0, 0, 0, B(MMIO_RBX)) \
  A("cmp (%rbx), %r10", MMIO_CMP, 8, 0, MMIO_R10, 0, 1, 0, B(MMIO_RBX)) \
  A("cmp %ch, (%rbx)", MMIO_CMP, 1, 0, MMIO_RCX, 1, 0, 0, B(MMIO_RBX)) \
  A("test %ecx, (%rbx)", MMIO_TEST, 4, 0, MMIO_RCX, 0, 0, 0, B(MMIO_RBX)) \
  A("test %r8w, (%rbx)", MMIO_TEST, 2, 0, MMIO_R8, 0, 0, 0, B(MMIO_RBX)) \
  A("test %bh, (%rsi)", MMIO_TEST, 1, 0, MMIO_RBX, 1, 0, 0, B(MMIO_RSI)) \
  A("addl $0x12345678, (%rbx)", MMIO_ADD, 4, 1, NO, 0, 0, 0x12345678, B(MMIO_RBX)) \
  A("orw $0x8001, (%rbx)", MMIO_OR, 2, 1, NO, 0, 0, 0x8001, B(MMIO_RBX)) \
  A("andb $0xf0, (%rbx)", MMIO_AND, 1, 1, NO, 0, 0, 0xf0, B(MMIO_RBX)) \
  A("subq $-5, (%rbx)", MMIO_SUB, 8, 1, NO, 0, 0, (uint64_t)-5, B(MMIO_RBX)) \
  A("subw $-5, (%rbx)", MMIO_SUB, 2, 1, NO, 0, 0, 0xfffb, B(MMIO_RBX)) \
  A("xorq $0x7fffffff, (%rbx)", MMIO_XOR, 8, 1, NO, 0, 0, 0x7fffffff, B(MMIO_RBX)) \
  A("xorq $-0x80000000, (%rbx)", MMIO_XOR, 8, 1, NO, 0, 0, 0xffffffff80000000, B(MMIO_RBX)) \
  A("cmpl $0, (%rbx)", MMIO_CMP, 4, 0, NO, 0, 0, 0, B(MMIO_RBX)) \
  A("cmpb $0x80, (%rbx)", MMIO_CMP, 1, 0, NO, 0, 0, 0x80, B(MMIO_RBX)) \
  A("adcl $1, (%rbx)", MMIO_ADC, 4, 1, NO, 0, 0, 1, B(MMIO_RBX)) \
  A("sbbq $-1, (%rbx)", MMIO_SBB, 8, 1, NO, 0, 0, ~0ULL, B(MMIO_RBX)) \
  A("testb $1, (%rbx)", MMIO_TEST, 1, 0, NO, 0, 0, 1, B(MMIO_RBX)) \
  A("testl $0x80000000, (%rbx)", MMIO_TEST, 4, 0, NO, 0, 0, 0x80000000, B(MMIO_RBX)) \
  A("testq $-1, (%rbx)", MMIO_TEST, 8, 0, NO, 0, 0, ~0ULL, B(MMIO_RBX)) \
  A("testw $0x8000, (%rbx)", MMIO_TEST, 2, 0, NO, 0, 0, 0x8000, B(MMIO_RBX)) \
  A("incl (%rbx)", MMIO_INC, 4, 1, NO, 0, 0, 0, B(MMIO_RBX)) \
  A("decb (%rbx)", MMIO_DEC, 1, 1, NO, 0, 0, 0, B(MMIO_RBX)) \
  A("incq (%rbx)", MMIO_INC, 8, 1, NO, 0, 0, 0, B(MMIO_RBX)) \
  A("decw (%rbx)", MMIO_DEC, 2, 1, NO, 0, 0, 0, B(MMIO_RBX)) \
  A("notl (%rbx)", MMIO_NOT, 4, 1, NO, 0, 0, 0, B(MMIO_RBX)) \
  A("notw (%rbx)", MMIO_NOT, 2, 1, NO, 0, 0, 0, B(MMIO_RBX)) \
  A("negq (%rbx)", MMIO_NEG, 8, 1, NO, 0, 0, 0, B(MMIO_RBX)) \
  A("negb (%rbx)", MMIO_NEG, 1, 1, NO, 0, 0, 0, B(MMIO_RBX)) \
  A("add 8(%rbx,%rcx,4), %r11d", MMIO_ADD, 4, 0, MMIO_R11, 0, 1, 0, MMIO_RBX, MMIO_RCX, 4, 8, 0, 0, DEF) \
  A("orl $0x40, -0x10(%r13)", MMIO_OR, 4, 1, NO, 0, 0, 0x40, MMIO_R13, NO, 1, -0x10, 0, 0, DEF) \
  A("shll (%rbx)", MMIO_SHL, 4, 1, NO, 0, 0, 1, B(MMIO_RBX)) \
  A("shrb $3, (%rbx)", MMIO_SHR, 1, 1, NO, 0, 0, 3, B(MMIO_RBX)) \
  A("sarw %cl, (%rbx)", MMIO_SAR, 2, 1, MMIO_RCX, 0, 0, 0, B(MMIO_RBX)) \
  A("sarq %cl, (%rbx)", MMIO_SAR, 8, 1, MMIO_RCX, 0, 0, 0, B(MMIO_RBX)) \
  A("rolq $7, (%rbx)", MMIO_ROL, 8, 1, NO, 0, 0, 7, B(MMIO_RBX)) \
  A("rorl %cl, (%rbx)", MMIO_ROR, 4, 1, MMIO_RCX, 0, 0, 0, B(MMIO_RBX)) \
  A("rclb (%rbx)", MMIO_RCL, 1, 1, NO, 0, 0, 1, B(MMIO_RBX)) \
  A("rcrq $2, (%rbx)", MMIO_RCR, 8, 1, NO, 0, 0, 2, B(MMIO_RBX)) \
  A("shlw $17, (%rbx)", MMIO_SHL, 2, 1, NO, 0, 0, 17, B(MMIO_RBX)) \
  A("rclw %cl, (%rbx)", MMIO_RCL, 2, 1, MMIO_RCX, 0, 0, 0, B(MMIO_RBX))

#define EMIT_FORM(text, ...) EMIT(forms, text)
#define EMIT_REFUSED(text) EMIT(refused, text)
#define EMIT_ALU(text, ...) EMIT(alus, text)
__asm__(TABLE_START(forms) EACH_REG(EMIT_FORM, REG_FORMS) OTHER_FORMS(EMIT_FORM) TABLE_END(forms) TABLE_START(refused)
            REFUSED(EMIT_REFUSED) TABLE_END(refused) TABLE_START(alus) ALU_FORMS(EMIT_ALU) TABLE_END(alus));
DECLARE_TABLE(forms)
DECLARE_TABLE(refused)
DECLARE_TABLE(alus)

struct form {
  const char *text;
  int width, store, reg, high_byte, reg_width, sign_extend;
  uint64_t imm;
  int base, index, scale;
  int64_t disp;
  int rip_relative, addr32, segment;
};
#define FORM_ROW(text, ...) {text, __VA_ARGS__},
static const struct form forms[] = {EACH_REG(FORM_ROW, REG_FORMS) OTHER_FORMS(FORM_ROW)};
struct alu_form {
  const char *text;
  int op, width, store, reg, high_byte, reg_dest;
  uint64_t imm;
  int base, index, scale;
  int64_t disp;
  int rip_relative, addr32, segment;
};
#define ALU_ROW(text, ...) {text, __VA_ARGS__},
static const struct alu_form alus[] = {ALU_FORMS(ALU_ROW)};
#define REFUSED_ROW(text) text,
static const char *const refused[] = {REFUSED(REFUSED_ROW)};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void hex(char *out, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) out += sprintf(out, "%02x ", p[i]);
  *out = 0;
}

static void test_decoder(void) {
  CHECK((size_t)(forms_index_end - forms_index) == COUNT(forms));
  for (size_t i = 0; i < COUNT(forms); i++) {
    const struct form *f = &forms[i];
    const uint8_t *code = forms_code + forms_index[i].offset;
    size_t len = forms_index[i].length;
    char bytes[64];
    hex(bytes, code, len);
    struct mmio_insn d;
    if (f->width < 0) {
      if (mmio_decode(code, len, &d) == 0) FAIL("%s [%s]: decoded, expected refused", f->text, bytes);
      continue;
    }
    if (mmio_decode(code, len, &d) != 0) FAIL("%s [%s]: refused", f->text, bytes);
    if (d.length != len || d.width != f->width || d.store != f->store || d.reg + (d.xmm ? XMM(0) : 0) != f->reg ||
        d.high_byte != f->high_byte ||
        (!f->store && (d.reg_width != f->reg_width || d.sign_extend != f->sign_extend)) ||
        (f->store && d.reg == MMIO_NO_REG && d.imm != f->imm))
      FAIL("%s [%s]: length %d width %d store %d reg %d high %d reg_width %d sign %d imm %#llx", f->text, bytes,
           d.length, d.width, d.store, d.reg, d.high_byte, d.reg_width, d.sign_extend, (unsigned long long)d.imm);
    if (d.mem.base != f->base || d.mem.index != f->index || d.mem.scale != f->scale || d.mem.disp != f->disp ||
        d.mem.rip_relative != f->rip_relative || d.mem.addr32 != f->addr32 || d.mem.segment != f->segment)
      FAIL("%s [%s]: base %d index %d scale %d disp %lld rip %d addr32 %d segment %d", f->text, bytes, d.mem.base,
           d.mem.index, d.mem.scale, (long long)d.mem.disp, d.mem.rip_relative, d.mem.addr32, d.mem.segment);
    /* Never reads past what it is given: one byte short is refused. */
    if (mmio_decode(code, len - 1, &d) == 0) FAIL("%s [%s]: decoded from %zu bytes", f->text, bytes, len - 1);
  }
  CHECK((size_t)(alus_index_end - alus_index) == COUNT(alus));
  for (size_t i = 0; i < COUNT(alus); i++) {
    const struct alu_form *f = &alus[i];
    const uint8_t *code = alus_code + alus_index[i].offset;
    size_t len = alus_index[i].length;
    char bytes[64];
    hex(bytes, code, len);
    struct mmio_insn d;
    if (mmio_decode(code, len, &d) != 0) FAIL("%s [%s]: refused", f->text, bytes);
    if (d.length != len || d.op != f->op || d.width != f->width || d.store != f->store || d.reg != f->reg ||
        d.high_byte != f->high_byte || d.reg_dest != f->reg_dest || (f->reg == NO && d.imm != f->imm) ||
        d.mem.base != f->base || d.mem.index != f->index || d.mem.scale != f->scale || d.mem.disp != f->disp)
      FAIL(
          "%s [%s]: length %d op %d width %d store %d reg %d high %d reg_dest %d imm %#llx base %d index %d "
          "scale %d disp %lld",
          f->text, bytes, d.length, d.op, d.width, d.store, d.reg, d.high_byte, d.reg_dest, (unsigned long long)d.imm,
          d.mem.base, d.mem.index, d.mem.scale, (long long)d.mem.disp);
    if (mmio_decode(code, len - 1, &d) == 0) FAIL("%s [%s]: decoded from %zu bytes", f->text, bytes, len - 1);
  }
  CHECK((size_t)(refused_index_end - refused_index) == COUNT(refused));
  for (size_t i = 0; i < COUNT(refused); i++) {
    const uint8_t *code = refused_code + refused_index[i].offset;
    char bytes[64];
    hex(bytes, code, refused_index[i].length);
    struct mmio_insn d;
    uint8_t padded[32] = {0};
    memcpy(padded, code, refused_index[i].length);
    if (mmio_decode(padded, sizeof padded, &d) == 0)
      FAIL("%s [%s]: decoded as length %d width %d, expected refused", refused[i], bytes, d.length, d.width);
  }
  printf("t_mmio: decoder: %zu forms, %zu ALU forms, %zu refused\n", COUNT(forms), COUNT(alus), COUNT(refused));
}

/* ---- a register-file device ---------------------------------------------------------------- */

#define REG_READ_CLEAR 0x800 /* reads return the value and clear it */
#define REG_READ_COUNT 0x808 /* reads return how many reads there were, this one included */

struct device {
  uint8_t bytes[PAGE];
  _Atomic uint64_t read_clear, read_count;
  _Atomic uint64_t accesses;
  uint64_t last_offset, last_value;
  unsigned last_width;
  int last_store;
};

static uint64_t device_read(void *opaque, uint64_t offset, unsigned width) {
  struct device *d = opaque;
  uint64_t v = 0;
  if (offset == REG_READ_CLEAR)
    v = atomic_exchange(&d->read_clear, 0);
  else if (offset == REG_READ_COUNT)
    v = atomic_fetch_add(&d->read_count, 1) + 1;
  else
    memcpy(&v, d->bytes + offset, width);
  d->last_offset = offset, d->last_width = width, d->last_value = v, d->last_store = 0;
  atomic_fetch_add(&d->accesses, 1);
  return v;
}

static void device_write(void *opaque, uint64_t offset, unsigned width, uint64_t value) {
  struct device *d = opaque;
  if (offset == REG_READ_CLEAR)
    atomic_store(&d->read_clear, value);
  else if (offset == REG_READ_COUNT)
    atomic_store(&d->read_count, value);
  else
    memcpy(d->bytes + offset, &value, width);
  d->last_offset = offset, d->last_width = width, d->last_value = value, d->last_store = 1;
  atomic_fetch_add(&d->accesses, 1);
}

static const struct mmio_ops device_ops = {device_read, device_write};

static uint64_t rng_state;
static uint64_t rnd(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dULL;
}

static void *map_none(void *hint, size_t len, int flags) {
  void *p = mmap(hint, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
  CHECK(p != MAP_FAILED);
  return p;
}

/* ---- live accesses --------------------------------------------------------------------------- */

/* Every case runs its instruction between loading all general registers but RSP from an array
   and storing them back into it: void run(uint64_t regs[16]). */
#define REGFILE_LOAD \
  "push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15; push %rdi\n" \
  "mov 0(%rdi), %rax; mov 8(%rdi), %rcx; mov 16(%rdi), %rdx; mov 24(%rdi), %rbx\n" \
  "mov 40(%rdi), %rbp; mov 48(%rdi), %rsi; mov 64(%rdi), %r8; mov 72(%rdi), %r9\n" \
  "mov 80(%rdi), %r10; mov 88(%rdi), %r11; mov 96(%rdi), %r12; mov 104(%rdi), %r13\n" \
  "mov 112(%rdi), %r14; mov 120(%rdi), %r15; mov 56(%rdi), %rdi\n"
#define REGFILE_STORE \
  "push %rdi; mov 8(%rsp), %rdi\n" \
  "mov %rax, 0(%rdi); mov %rcx, 8(%rdi); mov %rdx, 16(%rdi); mov %rbx, 24(%rdi)\n" \
  "mov %rbp, 40(%rdi); mov %rsi, 48(%rdi); mov %r8, 64(%rdi); mov %r9, 72(%rdi)\n" \
  "mov %r10, 80(%rdi); mov %r11, 88(%rdi); mov %r12, 96(%rdi); mov %r13, 104(%rdi)\n" \
  "mov %r14, 112(%rdi); mov %r15, 120(%rdi); pop %rax; mov %rax, 56(%rdi)\n" \
  "pop %rdi; pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx; ret\n"

/* The same with the arithmetic flags in and out (regs[16]), for the ALU cases. */
#define REGFILE_LOAD_FLAGS \
  "push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15; push %rdi\n" \
  "push 128(%rdi); popfq\n" \
  "mov 0(%rdi), %rax; mov 8(%rdi), %rcx; mov 16(%rdi), %rdx; mov 24(%rdi), %rbx\n" \
  "mov 40(%rdi), %rbp; mov 48(%rdi), %rsi; mov 64(%rdi), %r8; mov 72(%rdi), %r9\n" \
  "mov 80(%rdi), %r10; mov 88(%rdi), %r11; mov 96(%rdi), %r12; mov 104(%rdi), %r13\n" \
  "mov 112(%rdi), %r14; mov 120(%rdi), %r15; mov 56(%rdi), %rdi\n"
#define REGFILE_STORE_FLAGS \
  "pushfq; push %rdi; mov 16(%rsp), %rdi\n" \
  "mov %rax, 0(%rdi); mov %rcx, 8(%rdi); mov %rdx, 16(%rdi); mov %rbx, 24(%rdi)\n" \
  "mov %rbp, 40(%rdi); mov %rsi, 48(%rdi); mov %r8, 64(%rdi); mov %r9, 72(%rdi)\n" \
  "mov %r10, 80(%rdi); mov %r11, 88(%rdi); mov %r12, 96(%rdi); mov %r13, 104(%rdi)\n" \
  "mov %r14, 112(%rdi); mov %r15, 120(%rdi); pop %rax; mov %rax, 56(%rdi)\n" \
  "pop %rax; mov %rax, 128(%rdi)\n" \
  "pop %rdi; pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx; ret\n"
#define EMIT_ALU_RUN(text, ...) EMIT(alu_runs, REGFILE_LOAD_FLAGS text "\n" REGFILE_STORE_FLAGS)
__asm__(TABLE_START(alu_runs) ALU_FORMS(EMIT_ALU_RUN) TABLE_END(alu_runs));
DECLARE_TABLE(alu_runs)

/* Pages the live cases use: anywhere, at a fixed low address (absolute and 32-bit addressing),
   and in this program's .bss (RIP-relative). */
#define FIXED_PAGE 0x10000000
__attribute__((aligned(PAGE))) uint8_t rip_page[PAGE];
enum { ANY_PAGE, LOW_PAGE, RIP_PAGE };

/* Live cases: C(page, offset, the decoder's row). The base and index registers get values that
   make the operand's address page + offset; literal addresses are FIXED_PAGE + offset. */
#define LIVE_ABS(C) \
  C(LOW_PAGE, 0x10, "movabs 0x10000010, %eax", 4, 0, MMIO_RAX, 0, 4, 0, 0, NO, NO, 1, 0, 0, 0, DEF) \
  C(LOW_PAGE, 0x18, "movabs 0x10000018, %rax", 8, 0, MMIO_RAX, 0, 8, 0, 0, NO, NO, 1, 0, 0, 0, DEF) \
  C(LOW_PAGE, 0x22, "movabs 0x10000022, %ax", 2, 0, MMIO_RAX, 0, 2, 0, 0, NO, NO, 1, 0, 0, 0, DEF) \
  C(LOW_PAGE, 0x23, "movabs 0x10000023, %al", 1, 0, MMIO_RAX, 0, 1, 0, 0, NO, NO, 1, 0, 0, 0, DEF) \
  C(LOW_PAGE, 0x27, "movabs %al, 0x10000027", 1, 1, MMIO_RAX, 0, 1, 0, 0, NO, NO, 1, 0, 0, 0, DEF) \
  C(LOW_PAGE, 0x28, "movabs %rax, 0x10000028", 8, 1, MMIO_RAX, 0, 8, 0, 0, NO, NO, 1, 0, 0, 0, DEF) \
  C(LOW_PAGE, 0x30, "mov 0x10000030, %r9", 8, 0, MMIO_R9, 0, 8, 0, 0, NO, NO, 1, 0, 0, 0, DEF) \
  C(LOW_PAGE, 0x38, "movl $0xdeadbeef, 0x10000038", 4, 1, NO, 0, 0, 0, 0xdeadbeef, NO, NO, 1, 0, 0, 0, DEF) \
  C(LOW_PAGE, 0x40, "mov (%ebx), %ecx", 4, 0, MMIO_RCX, 0, 4, 0, 0, MMIO_RBX, NO, 1, 0, 0, 1, DEF) \
  C(LOW_PAGE, 0x48, "mov %r14, 8(%r8d,%r9d,8)", 8, 1, MMIO_R14, 0, 8, 0, 0, MMIO_R8, MMIO_R9, 8, 8, 0, 1, DEF) \
  C(RIP_PAGE, 0x50, "mov rip_page+0x50(%rip), %edx", 4, 0, MMIO_RDX, 0, 4, 0, 0, NO, NO, 1, 0, 1, 0, DEF) \
  C(RIP_PAGE, 0x58, "mov %r11, rip_page+0x58(%rip)", 8, 1, MMIO_R11, 0, 8, 0, 0, NO, NO, 1, 0, 1, 0, DEF) \
  C(RIP_PAGE, 0x60, "movb $0x7f, rip_page+0x60(%rip)", 1, 1, NO, 0, 0, 0, 0x7f, NO, NO, 1, 0, 1, 0, DEF)
#define LIVE_REL(C) \
  C(ANY_PAGE, 0x100, "mov %fs:(%rbx), %r10", 8, 0, MMIO_R10, 0, 8, 0, 0, MMIO_RBX, NO, 1, 0, 0, 0, MMIO_SEG_FS) \
  C(ANY_PAGE, 0x104, "mov %edi, %fs:0x10(%rsi,%rdx,2)", 4, 1, MMIO_RDI, 0, 4, 0, 0, MMIO_RSI, MMIO_RDX, 2, 0x10, 0, 0, \
    MMIO_SEG_FS) \
  C(ANY_PAGE, 0x108, "mov %gs:(%rbx), %r12", 8, 0, MMIO_R12, 0, 8, 0, 0, MMIO_RBX, NO, 1, 0, 0, 0, MMIO_SEG_GS) \
  C(ANY_PAGE, 0x110, "mov 0x7c(%rbx,%rcx,8), %eax", 4, 0, MMIO_RAX, 0, 4, 0, 0, MMIO_RBX, MMIO_RCX, 8, 0x7c, 0, 0, \
    DEF) \
  C(ANY_PAGE, 0x118, "mov -0x1000(%r13,%r15,4), %r8w", 2, 0, MMIO_R8, 0, 2, 0, 0, MMIO_R13, MMIO_R15, 4, -0x1000, 0, \
    0, DEF) \
  C(ANY_PAGE, 0x120, "movsbq 0x12345(,%rdi,1), %rsi", 1, 0, MMIO_RSI, 0, 8, 1, 0, NO, MMIO_RDI, 1, 0x12345, 0, 0, DEF) \
  C(ANY_PAGE, 0x128, "movq $-0x2a, (%r12)", 8, 1, NO, 0, 0, 0, (uint64_t)-0x2a, B(MMIO_R12)) \
  C(ANY_PAGE, 0x130, "movw $0x8001, 2(%rbp)", 2, 1, NO, 0, 0, 0, 0x8001, MMIO_RBP, NO, 1, 2, 0, 0, DEF) \
  C(ANY_PAGE, 0x138, "mov (%rsi), %ah", 1, 0, MMIO_RAX, 1, 1, 0, 0, B(MMIO_RSI)) \
  C(ANY_PAGE, 0x139, "mov (%rsi), %ch", 1, 0, MMIO_RCX, 1, 1, 0, 0, B(MMIO_RSI)) \
  C(ANY_PAGE, 0x13a, "mov (%rsi), %dh", 1, 0, MMIO_RDX, 1, 1, 0, 0, B(MMIO_RSI)) \
  C(ANY_PAGE, 0x13b, "mov (%rsi), %bh", 1, 0, MMIO_RBX, 1, 1, 0, 0, B(MMIO_RSI)) \
  C(ANY_PAGE, 0x13c, "mov %ah, (%rsi)", 1, 1, MMIO_RAX, 1, 1, 0, 0, B(MMIO_RSI)) \
  C(ANY_PAGE, 0x13d, "mov %ch, (%rsi)", 1, 1, MMIO_RCX, 1, 1, 0, 0, B(MMIO_RSI)) \
  C(ANY_PAGE, 0x13e, "mov %dh, (%rsi)", 1, 1, MMIO_RDX, 1, 1, 0, 0, B(MMIO_RSI)) \
  C(ANY_PAGE, 0x13f, "mov %bh, (%rsi)", 1, 1, MMIO_RBX, 1, 1, 0, 0, B(MMIO_RSI))
#define EMIT_LIVE(page, offset, text, ...) EMIT(runs, REGFILE_LOAD text "\n" REGFILE_STORE)
#define ROW_LIVE(page, offset, text, ...) {page, offset, {text, __VA_ARGS__}},
#define EMIT_LIVE_ANY(text, ...) EMIT_LIVE(ANY_PAGE, 0, text, __VA_ARGS__)
#define ROW_LIVE_ANY(text, ...) ROW_LIVE(ANY_PAGE, -1, text, __VA_ARGS__)

__asm__(TABLE_START(runs) EACH_REG(EMIT_LIVE_ANY, REG_FORMS) LIVE_ABS(EMIT_LIVE) LIVE_REL(EMIT_LIVE) TABLE_END(runs));
DECLARE_TABLE(runs)

struct live {
  int page, offset; /* offset -1: a random one */
  struct form f;
};
static const struct live lives[] = {EACH_REG(ROW_LIVE_ANY, REG_FORMS) LIVE_ABS(ROW_LIVE) LIVE_REL(ROW_LIVE)};

static const char *const reg_names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                          "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

static uint64_t segment_base(int segment) {
  unsigned long base = 0;
  if (segment != DEF) CHECK(syscall(SYS_arch_prctl, segment == MMIO_SEG_FS ? ARCH_GET_FS : ARCH_GET_GS, &base) == 0);
  return base;
}

/* Sets the base and index registers so that the memory operand's address is target. */
static void aim(uint64_t regs[16], uint64_t target, int base, int index, int scale, int64_t disp, int segment,
                int addr32) {
  uint64_t address = target - segment_base(segment) - (uint64_t)disp;
  if (base != NO) {
    uint64_t i = index != NO ? rnd() % 64 : 0;
    if (index != NO) regs[index] = i;
    uint64_t b = address - i * (uint64_t)scale;
    regs[base] = addr32 ? (b & 0xffffffff) | (rnd() << 32) : b; /* addr32 ignores the upper half */
  } else if (index != NO) {
    regs[index] = address / (uint64_t)scale;
  }
}

/* x86-64's result of loading v (width bytes) into a register holding old. */
static uint64_t loaded(const struct form *f, uint64_t old, uint64_t v) {
  uint64_t mask = f->width == 8 ? ~0ULL : (1ULL << (8 * f->width)) - 1;
  v &= mask;
  if (f->sign_extend && f->width < 8 && (v >> (8 * f->width - 1)) & 1) v |= ~mask;
  switch (f->reg_width) {
    case 8:
      return v;
    case 4:
      return v & 0xffffffff;
    case 2:
      return (old & ~0xffffULL) | (v & 0xffff);
    default:
      return f->high_byte ? (old & ~0xff00ULL) | ((v & 0xff) << 8) : (old & ~0xffULL) | (v & 0xff);
  }
}

static void test_live(void) {
  CHECK((size_t)(runs_index_end - runs_index) == COUNT(lives));
  struct device *dev = calloc(1, sizeof *dev);
  uint8_t *any = map_none(NULL, PAGE, 0);
  uint8_t *low = map_none((void *)FIXED_PAGE, PAGE, MAP_FIXED_NOREPLACE);
  CHECK(low == (uint8_t *)FIXED_PAGE);
  CHECK(mprotect(rip_page, PAGE, PROT_NONE) == 0);
  CHECK(mmio_trap_add(any, PAGE, &device_ops, dev) == 0);
  CHECK(mmio_trap_add(low, PAGE, &device_ops, dev) == 0);
  CHECK(mmio_trap_add(rip_page, PAGE, &device_ops, dev) == 0);
  uint8_t *pages[] = {any, low, rip_page};

  for (int round = 0; round < 20; round++) {
    for (size_t i = 0; i < COUNT(lives); i++) {
      const struct live *l = &lives[i];
      const struct form *f = &l->f;
      void (*run)(uint64_t *) = (void (*)(uint64_t *))(runs_code + runs_index[i].offset);
      for (size_t k = 0; k < PAGE; k++) dev->bytes[k] = (uint8_t)rnd();
      uint64_t offset = l->offset >= 0 ? (uint64_t)l->offset : (rnd() % (REG_READ_CLEAR / f->width)) * f->width;
      uint64_t target = (uint64_t)(pages[l->page] + offset);
      uint64_t regs[16], before[16];
      for (int r = 0; r < 16; r++) regs[r] = rnd();
      if (round == 0 && f->reg >= 0) regs[f->reg] = ~0ULL; /* shows what a load keeps or clears */
      aim(regs, target, f->base, f->index, f->scale, f->disp, f->segment, f->addr32);
      memcpy(before, regs, sizeof regs);
      uint64_t memory = 0;
      memcpy(&memory, dev->bytes + offset, (size_t)f->width);
      uint64_t accesses = atomic_load(&dev->accesses);
      run(regs);
      if (atomic_load(&dev->accesses) != accesses + 1 || dev->last_offset != offset ||
          (int)dev->last_width != f->width || dev->last_store != f->store)
        FAIL("%s: the device saw %llu accesses, last %s at %#llx width %u; expected a %s at %#llx width %d", f->text,
             (unsigned long long)(atomic_load(&dev->accesses) - accesses), dev->last_store ? "store" : "load",
             (unsigned long long)dev->last_offset, dev->last_width, f->store ? "store" : "load",
             (unsigned long long)offset, f->width);
      uint64_t expect[16];
      memcpy(expect, before, sizeof before);
      if (f->store) {
        uint64_t v = f->reg == NO ? f->imm : before[f->reg] >> (f->high_byte ? 8 : 0);
        uint64_t mask = f->width == 8 ? ~0ULL : (1ULL << (8 * f->width)) - 1;
        if (dev->last_value != (v & mask))
          FAIL("%s: stored %#llx, expected %#llx", f->text, (unsigned long long)dev->last_value,
               (unsigned long long)(v & mask));
      } else {
        expect[f->reg] = loaded(f, before[f->reg], memory);
      }
      for (int r = 0; r < 16; r++)
        if (r != MMIO_RSP && regs[r] != expect[r])
          FAIL("%s (offset %#llx, memory %#llx): %s is %#llx, expected %#llx (was %#llx)", f->text,
               (unsigned long long)offset, (unsigned long long)memory, reg_names[r], (unsigned long long)regs[r],
               (unsigned long long)expect[r], (unsigned long long)before[r]);
    }
  }

  /* ALU instructions: the CPU itself is the reference. Each runs once on the trapped page and
     once on ordinary memory with the same contents, registers and flags; results must agree. */
  CHECK((size_t)(alu_runs_index_end - alu_runs_index) == COUNT(alus));
  uint8_t *plain = t_buffer(PAGE);
  for (int round = 0; round < 50; round++) {
    for (size_t i = 0; i < COUNT(alus); i++) {
      const struct alu_form *f = &alus[i];
      void (*run)(uint64_t *) = (void (*)(uint64_t *))(alu_runs_code + alu_runs_index[i].offset);
      uint64_t offset = (rnd() % (REG_READ_CLEAR / 8)) * 8;
      for (size_t k = 0; k < PAGE; k++) plain[k] = dev->bytes[k] = (uint8_t)rnd();
      uint64_t value = rnd();
      if (round % 4 == 1) value = 0;                          /* ZF, and CF of NEG */
      if (round % 4 == 2) value = 1ULL << (8 * f->width - 1); /* OF of INC, DEC, NEG, SUB */
      memcpy(dev->bytes + offset, &value, (size_t)f->width);
      memcpy(plain + offset, &value, (size_t)f->width);
      uint64_t trapped[17], native[17], before[17];
      for (int r = 0; r < 16; r++) before[r] = round % 4 == 3 ? rnd() & 0x80000001 : rnd();
      before[16] = 0x202 | (rnd() & 0x8d5);
      memcpy(trapped, before, sizeof before);
      aim(trapped, (uint64_t)(any + offset), f->base, f->index, f->scale, f->disp, f->segment, f->addr32);
      memcpy(native, trapped, sizeof trapped);
      native[f->base] += (uint64_t)plain - (uint64_t)any; /* every ALU case has a base register */
      uint64_t accesses = atomic_load(&dev->accesses);
      run(trapped);
      run(native);
      uint64_t after = 0, expect = 0;
      memcpy(&after, dev->bytes + offset, (size_t)f->width);
      memcpy(&expect, plain + offset, (size_t)f->width);
      if (atomic_load(&dev->accesses) - accesses != (uint64_t)(f->store ? 2 : 1) || dev->last_store != f->store)
        FAIL("%s: %llu device accesses, expected %d", f->text,
             (unsigned long long)(atomic_load(&dev->accesses) - accesses), f->store ? 2 : 1);
      if (after != expect)
        FAIL("%s (value %#llx): memory %#llx, the CPU made %#llx", f->text, (unsigned long long)value,
             (unsigned long long)after, (unsigned long long)expect);
      if ((trapped[16] & 0x8d5) != (native[16] & 0x8d5))
        FAIL("%s (value %#llx, flags in %#llx): flags %#llx, the CPU made %#llx", f->text, (unsigned long long)value,
             (unsigned long long)before[16], (unsigned long long)trapped[16], (unsigned long long)native[16]);
      for (int r = 0; r < 16; r++)
        if (r != MMIO_RSP && r != f->base && trapped[r] != native[r])
          FAIL("%s (value %#llx): %s is %#llx, the CPU made %#llx", f->text, (unsigned long long)value, reg_names[r],
               (unsigned long long)trapped[r], (unsigned long long)native[r]);
    }
  }

  /* MOVD/MOVQ through XMM registers: a load sets the low 32 or 64 bits and clears the rest. */
  uint64_t fill[2] = {rnd(), rnd()}, x5[2], x13[2], x6[2];
  uint8_t *p = any + 0x200;
  memcpy(dev->bytes + 0x200, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
  __asm__ volatile(
      "movdqu %3, %%xmm5; movdqu %3, %%xmm6; movdqu %3, %%xmm13\n"
      "movd (%4), %%xmm5; movq (%4), %%xmm13\n"
      "movdqu %%xmm5, %0; movdqu %%xmm13, %1; movdqu %%xmm6, %2"
      : "=m"(x5), "=m"(x13), "=m"(x6)
      : "m"(fill), "r"(p)
      : "xmm5", "xmm6", "xmm13", "memory");
  CHECK(x5[0] == 0x44332211 && x5[1] == 0);
  CHECK(x13[0] == 0x8877665544332211ULL && x13[1] == 0);
  CHECK(x6[0] == fill[0] && x6[1] == fill[1]);
  __asm__ volatile("movdqu %1, %%xmm7; movq %%xmm7, 8(%0); movd %%xmm7, 16(%0)"
                   :
                   : "r"(p), "m"(fill)
                   : "xmm7", "memory");
  CHECK(memcmp(dev->bytes + 0x208, &fill[0], 8) == 0);
  CHECK(memcmp(dev->bytes + 0x210, &fill[0], 4) == 0 && dev->last_width == 4);

  /* Side effects happen once per access, as on a device. */
  volatile uint32_t *r32 = (volatile uint32_t *)any;
  volatile uint64_t *r64 = (volatile uint64_t *)any;
  r64[REG_READ_CLEAR / 8] = 0x1234;
  CHECK(r64[REG_READ_CLEAR / 8] == 0x1234);
  CHECK(r64[REG_READ_CLEAR / 8] == 0);
  r64[REG_READ_COUNT / 8] = 0;
  for (uint32_t n = 1; n <= 100; n++) CHECK(r32[REG_READ_COUNT / 4] == n);
  /* Spot checks with literal values. */
  memcpy(dev->bytes, "\x80\x81\x82\x83\x84\x85\x86\x87", 8);
  CHECK(*(volatile int8_t *)any == -128);
  CHECK(*(volatile uint16_t *)any == 0x8180);
  CHECK(*(volatile int32_t *)any == (int32_t)0x83828180);
  CHECK(*(volatile uint64_t *)any == 0x8786858483828180ULL);

  CHECK(mmio_trap_remove(any) == 0);
  CHECK_ERRNO(mmio_trap_remove(any), ENOENT);
  CHECK(mmio_trap_add(any, PAGE, &device_ops, dev) == 0);
  CHECK_ERRNO(mmio_trap_add(any + 8, 8, &device_ops, dev), EEXIST);
  CHECK_ERRNO(mmio_trap_add(any, 0, &device_ops, dev), EINVAL);
  CHECK_ERRNO(mmio_trap_add((void *)-8, 16, &device_ops, dev), EINVAL);
  static const struct mmio_ops no_write = {device_read, NULL};
  CHECK_ERRNO(mmio_trap_add(any + PAGE, 8, &no_write, dev), EINVAL);
  printf("t_mmio: live: %zu cases x 20 rounds, %zu ALU cases x 50 rounds\n", COUNT(lives), COUNT(alus));
}

/* ---- SIGSEGV stays the program's ------------------------------------------------------------- */

static uint8_t *outside; /* a PROT_NONE page that is not trapped */
static volatile sig_atomic_t handled;
static void *handled_addr;
static int handled_code;
static int segv_blocked_in_handler, usr1_blocked_in_handler;

/* Makes the page accessible so the faulting access succeeds when it is executed again. */
static void program_handler(int sig, siginfo_t *si, void *ctx) {
  handled++;
  handled_addr = si->si_addr;
  handled_code = si->si_code;
  sigset_t now;
  sigprocmask(SIG_SETMASK, NULL, &now);
  segv_blocked_in_handler = sigismember(&now, SIGSEGV);
  usr1_blocked_in_handler = sigismember(&now, SIGUSR1);
  if (si->si_code > 0) mprotect(outside, PAGE, PROT_READ | PROT_WRITE);
}

static void plain_handler(int sig) {
  handled += 100;
  mprotect(outside, PAGE, PROT_READ | PROT_WRITE);
}

static void touch_outside(void) {
  CHECK(mprotect(outside, PAGE, PROT_NONE) == 0);
  *(volatile uint32_t *)(outside + 12) = 1;
}

static void set_program_handler(int flags, struct sigaction *old) {
  struct sigaction act;
  memset(&act, 0, sizeof act);
  act.sa_sigaction = program_handler;
  act.sa_flags = SA_SIGINFO | flags;
  sigemptyset(&act.sa_mask);
  sigaddset(&act.sa_mask, SIGUSR1);
  CHECK(sigaction(SIGSEGV, &act, old) == 0);
}

static struct device child_dev;

static uint8_t *trap_page(void) {
  uint8_t *p = map_none(NULL, PAGE, 0);
  CHECK(mmio_trap_add(p, PAGE, &device_ops, &child_dev) == 0);
  return p;
}

static void check_trap_works(uint8_t *page) {
  *(volatile uint32_t *)(page + 4) = 0xfeed;
  CHECK(*(volatile uint32_t *)(page + 4) == 0xfeed);
}

static void handler_before_trap(void) {
  set_program_handler(0, NULL);
  uint8_t *page = trap_page();
  check_trap_works(page);
  touch_outside();
  CHECK(handled == 1 && handled_addr == outside + 12 && handled_code == SEGV_ACCERR);
  CHECK(segv_blocked_in_handler && usr1_blocked_in_handler);
  struct sigaction now;
  CHECK(sigaction(SIGSEGV, NULL, &now) == 0);
  CHECK(now.sa_sigaction == program_handler && (now.sa_flags & SA_SIGINFO));
  check_trap_works(page);
}

static void handler_after_trap(void) {
  uint8_t *page = trap_page();
  struct sigaction old;
  set_program_handler(SA_NODEFER, &old);
  CHECK(old.sa_handler == SIG_DFL);
  check_trap_works(page);
  touch_outside();
  CHECK(handled == 1 && handled_addr == outside + 12 && !segv_blocked_in_handler && usr1_blocked_in_handler);
  /* signal() sees and replaces the program's handler, not the trap's. */
  CHECK((void *)signal(SIGSEGV, plain_handler) == (void *)program_handler);
  touch_outside();
  CHECK(handled == 101);
  check_trap_works(page);
  /* SA_RESETHAND: the first fault resets the program's disposition, as the kernel would. */
  set_program_handler(SA_RESETHAND, &old);
  CHECK(old.sa_handler == plain_handler);
  touch_outside();
  CHECK(handled == 102);
  CHECK(sigaction(SIGSEGV, NULL, &old) == 0 && old.sa_handler == SIG_DFL);
  check_trap_works(page);
  /* A sent SIGSEGV goes to the program even if no page faulted. */
  set_program_handler(0, NULL);
  raise(SIGSEGV);
  CHECK(handled == 103 && handled_code <= 0);
}

static void default_action_kills(void) {
  trap_page();
  touch_outside();
}

static void ignored_fault_kills(void) {
  trap_page();
  CHECK(signal(SIGSEGV, SIG_IGN) == SIG_DFL);
  raise(SIGSEGV); /* a sent signal is ignored */
  touch_outside();
}

/* ---- accesses the trap refuses --------------------------------------------------------------- */

static uint8_t *refused_page; /* mapped by the parent, trapped by each child that uses it */

/* Loads from p as the CPU does, aligned or not (in C an unaligned access would be undefined):
   mov (%rbx), %eax is 8b 03. */
static void load32(const void *p) {
  uint32_t v;
  __asm__ volatile("mov (%1), %0" : "=a"(v) : "b"(p) : "memory");
}

static void load64(const void *p) {
  uint64_t v;
  __asm__ volatile("mov (%1), %0" : "=a"(v) : "b"(p) : "memory");
}

static void trap_refused_page(void) { CHECK(mmio_trap_add(refused_page, PAGE, &device_ops, &child_dev) == 0); }

static void xchg_with_trapped(void) {
  trap_refused_page();
  uint32_t v = 1;
  __asm__ volatile("xchg %0, (%1)" : "+a"(v) : "b"(refused_page + 0x20) : "memory"); /* 87 03 */
}

static void unaligned(void) {
  trap_refused_page();
  load32(refused_page + 0x22);
}

static void crossing_end(void) {
  CHECK(mmio_trap_add(refused_page, 0x104, &device_ops, &child_dev) == 0);
  load64(refused_page + 0x100);
}

static void starting_before(void) {
  uint8_t *two = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(two != MAP_FAILED && mprotect(two + PAGE, PAGE, PROT_NONE) == 0);
  CHECK(mmio_trap_add(two + PAGE, PAGE, &device_ops, &child_dev) == 0);
  load64(two + PAGE - 4);
}

static void executing_trapped(void) {
  trap_refused_page();
  ((void (*)(void))refused_page)();
}

/* An instruction that ends where a trapped page begins is emulated (its bytes are read up to
   there, not beyond); execution then continues into the trapped page, which is refused. */
static uint8_t *code_pages;

static void code_before_trapped(void) {
  uint8_t *trapped = code_pages + PAGE;
  CHECK(mmio_trap_add(trapped, PAGE, &device_ops, &child_dev) == 0);
  memcpy(code_pages + PAGE - 2, "\x8b\x03", 2); /* mov (%rbx), %eax */
  CHECK(mprotect(code_pages, PAGE, PROT_READ | PROT_EXEC) == 0);
  __asm__ volatile("call *%0" : : "r"(code_pages + PAGE - 2), "b"(trapped + 8) : "rax", "memory");
}

/* ---- threads ------------------------------------------------------------------------------- */

#define THREADS 4
#define ITERATIONS 5000
static uint8_t *shared_page;
static _Atomic int churning;

static void *hammer(void *arg) {
  int t = (int)(intptr_t)arg;
  volatile uint64_t *mine = (volatile uint64_t *)(shared_page + 64 * t);
  volatile uint32_t *counter = (volatile uint32_t *)(shared_page + REG_READ_COUNT);
  uint32_t last = 0;
  for (uint64_t i = 0; i < ITERATIONS; i++) {
    *mine = i * 0x100000001ULL + (uint64_t)t;
    if (*mine != i * 0x100000001ULL + (uint64_t)t)
      FAIL("thread %d: register lost its value at %llu", t, (unsigned long long)i);
    uint32_t n = *counter;
    if (n <= last) FAIL("thread %d: read counter went from %u to %u", t, last, n);
    last = n;
  }
  return NULL;
}

static void *churn(void *arg) {
  static struct device other;
  uint8_t *page = arg;
  while (atomic_load(&churning)) {
    CHECK(mmio_trap_add(page, PAGE, &device_ops, &other) == 0);
    CHECK(*(volatile uint64_t *)(page + 8) == 0);
    CHECK(mmio_trap_remove(page) == 0);
  }
  return NULL;
}

static void threads(void) {
  static struct device dev;
  shared_page = trap_page();
  CHECK(mmio_trap_remove(shared_page) == 0);
  CHECK(mmio_trap_add(shared_page, PAGE, &device_ops, &dev) == 0);
  pthread_t t[THREADS], churner;
  atomic_store(&churning, 1);
  CHECK(pthread_create(&churner, NULL, churn, map_none(NULL, PAGE, 0)) == 0);
  for (int i = 0; i < THREADS; i++) CHECK(pthread_create(&t[i], NULL, hammer, (void *)(intptr_t)i) == 0);
  for (int i = 0; i < THREADS; i++) CHECK(pthread_join(t[i], NULL) == 0);
  atomic_store(&churning, 0);
  CHECK(pthread_join(churner, NULL) == 0);
  CHECK(atomic_load(&dev.read_count) == (uint64_t)THREADS * ITERATIONS);
  CHECK(atomic_load(&dev.accesses) == (uint64_t)THREADS * ITERATIONS * 3);
}

/* mmio_trap_remove returns only after a handler that is using the range has finished. */
static _Atomic int slow_state; /* 1: a read has started, 2: it has finished */

static uint64_t slow_read(void *opaque, uint64_t offset, unsigned width) {
  atomic_store(&slow_state, 1);
  struct timespec pause = {0, 100 * 1000 * 1000};
  nanosleep(&pause, NULL);
  atomic_store(&slow_state, 2);
  return 42;
}

static void *read_slow(void *page) {
  if (*(volatile uint32_t *)page != 42) FAIL("the slow read returned the wrong value");
  return NULL;
}

static void remove_waits_for_handlers(void) {
  static const struct mmio_ops slow_ops = {slow_read, device_write};
  uint8_t *page = map_none(NULL, PAGE, 0);
  CHECK(mmio_trap_add(page, PAGE, &slow_ops, NULL) == 0);
  pthread_t reader;
  CHECK(pthread_create(&reader, NULL, read_slow, page) == 0);
  while (atomic_load(&slow_state) == 0) sched_yield();
  CHECK(mmio_trap_remove(page) == 0);
  CHECK(atomic_load(&slow_state) == 2);
  CHECK(pthread_join(reader, NULL) == 0);
}

/* ---- running cases in children --------------------------------------------------------------- */

/* Runs fn in a child; it must exit 0 (signal 0) or die by signal, with expect and expect_too in
   its standard error (NULL: anything). */
static void in_child(const char *name, void (*fn)(void), int signal, const char *expect, const char *expect_too) {
  int pipefd[2];
  CHECK(pipe(pipefd) == 0);
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    t_name = name;
    close(pipefd[0]);
    dup2(pipefd[1], 2);
    fn();
    exit(0);
  }
  close(pipefd[1]);
  char err[4096] = {0};
  size_t n = 0;
  ssize_t r;
  while (n < sizeof err - 1 && (r = read(pipefd[0], err + n, sizeof err - 1 - n)) > 0) n += (size_t)r;
  close(pipefd[0]);
  int status;
  CHECK(waitpid(pid, &status, 0) == pid);
  int ok = signal ? WIFSIGNALED(status) && WTERMSIG(status) == signal : WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!ok)
    FAIL("%s: status 0x%x, expected %s %d; its stderr:\n%s", name, status, signal ? "signal" : "exit", signal, err);
  const char *expected[] = {expect, expect_too};
  for (int i = 0; i < 2; i++)
    if (expected[i] && !strstr(err, expected[i]))
      FAIL("%s: stderr does not contain \"%s\":\n%s", name, expected[i], err);
}

/* The start of the report of an access to addr. */
static const char *refusal(const void *addr) {
  static char line[128];
  snprintf(line, sizeof line, "iommufd4j: cannot emulate the MMIO access to 0x%016llx at rip 0x",
           (unsigned long long)(uintptr_t)addr);
  return line;
}

/* ---- benchmark ------------------------------------------------------------------------------- */

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void load_2_bytes_long(volatile uint32_t *reg) {
  uint32_t v;
  __asm__ volatile("mov (%1), %0" : "=a"(v) : "b"(reg) : "memory"); /* 8b 03 */
}

static void load(volatile uint32_t *reg) { (void)*reg; }

/* The floor: a fault whose handler only steps over the instruction. */
static void skip_2_bytes(int sig, siginfo_t *si, void *context) {
  ((ucontext_t *)context)->uc_mcontext.gregs[REG_RIP] += 2;
}

/* Median, p10 and p90 of per-access times in batches, on one clock. */
static void measure(void (*access)(volatile uint32_t *), volatile uint32_t *reg, long batches, clockid_t clock,
                    const char *what) {
  enum { BATCH = 1000 };
  double *per_access = calloc((size_t)batches, sizeof *per_access);
  for (long b = 0; b < batches; b++) {
    double t0 = now_ns(clock);
    for (int i = 0; i < BATCH; i++) access(reg);
    per_access[b] = (now_ns(clock) - t0) / BATCH;
  }
  qsort(per_access, (size_t)batches, sizeof *per_access, by_value);
  printf("t_mmio bench: %s: median %.0f ns, p10 %.0f ns, p90 %.0f ns (%ld batches of %d)\n", what,
         per_access[batches / 2], per_access[batches / 10], per_access[batches * 9 / 10], batches, BATCH);
  free(per_access);
}

/* A trapped 4-byte load against the kernel's floor (fault, signal delivery, sigreturn). Elapsed
   time depends on what else the machine runs; the thread's CPU time much less. */
static void bench(long n) {
  static struct device dev;
  uint8_t *page = map_none(NULL, PAGE, 0);
  volatile uint32_t *reg = (volatile uint32_t *)(page + 16);
  long batches = n / 1000 > 0 ? n / 1000 : 1;
  struct sigaction floor;
  memset(&floor, 0, sizeof floor);
  floor.sa_sigaction = skip_2_bytes;
  floor.sa_flags = SA_SIGINFO | SA_NODEFER;
  CHECK(sigaction(SIGSEGV, &floor, NULL) == 0); /* before the trap: the kernel's own handler */
  measure(load_2_bytes_long, reg, batches, CLOCK_THREAD_CPUTIME_ID, "fault + empty handler, thread CPU time");
  signal(SIGSEGV, SIG_DFL);
  CHECK(mmio_trap_add(page, PAGE, &device_ops, &dev) == 0);
  for (int i = 0; i < 2000; i++) load(reg); /* warm-up */
  measure(load, reg, batches, CLOCK_THREAD_CPUTIME_ID, "trapped 4-byte load, thread CPU time");
  measure(load, reg, batches, CLOCK_MONOTONIC, "trapped 4-byte load, elapsed");
}

int main(int argc, char **argv) {
  t_name = "t_mmio";
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && strcmp(argv[1], "bench") == 0) {
    bench(argc >= 3 ? atol(argv[2]) : 200000);
    return 0;
  }
  const char *seed_env = getenv("T_SEED");
  uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL);
  rng_state = seed ? seed : 1;
  printf("t_mmio: seed %llu (T_SEED=%llu repeats this run)\n", (unsigned long long)seed, (unsigned long long)seed);

  test_decoder();
  outside = map_none(NULL, PAGE, 0);
  refused_page = map_none(NULL, PAGE, 0);
  in_child("live", test_live, 0, NULL, NULL);
  in_child("handler installed before the trap", handler_before_trap, 0, NULL, NULL);
  in_child("handler installed after the trap", handler_after_trap, 0, NULL, NULL);
  in_child("SIG_DFL", default_action_kills, SIGSEGV, NULL, NULL);
  in_child("SIG_IGN", ignored_fault_kills, SIGSEGV, NULL, NULL);
  in_child("threads", threads, 0, NULL, NULL);
  in_child("remove", remove_waits_for_handlers, 0, NULL, NULL);

  /* Refused accesses: reported with the address and the instruction's bytes, then SIGSEGV. */
  in_child("xchg", xchg_with_trapped, SIGSEGV, refusal(refused_page + 0x20),
           ": unsupported instruction (instruction bytes: 87 03 ");
  in_child("unaligned", unaligned, SIGSEGV, refusal(refused_page + 0x22), ": unaligned access (instruction bytes: 8b ");
  in_child("crossing", crossing_end, SIGSEGV, refusal(refused_page + 0x100),
           ": the access crosses the end of the trapped range (");
  in_child("before", starting_before, SIGSEGV, "the access starts before the trapped range (", NULL);
  code_pages = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(code_pages != MAP_FAILED && mprotect(code_pages + PAGE, PAGE, PROT_NONE) == 0);
  in_child("code before", code_before_trapped, SIGSEGV, refusal(code_pages + PAGE),
           ": code executed from a trapped range\n");
  in_child("executing", executing_trapped, SIGSEGV, refusal(refused_page), ": code executed from a trapped range\n");
  printf("t_mmio: ok\n");
  return 0;
}
