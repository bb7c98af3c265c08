/**
 * A tiny eBPF assembler: enough to write small XDP/TC programs by hand and load them with `loadProgram`
 * (sys/bpf.ts), without clang or libbpf.
 *
 * Encoding: Documentation/bpf/standardization/instruction-set.rst and include/uapi/linux/bpf_common.h, bpf.h.
 * One instruction is 8 bytes: opcode u8 · regs u8 (dst in the low nibble, src in the high one) · off s16 · imm s32,
 * little-endian. `ldImm64` (and `ldMapFd`) take two slots. Jump offsets count slots from the next instruction.
 *
 * Registers: R0 return value / helper result, R1–R5 arguments (clobbered by `call`), R6–R9 callee-saved,
 * R10 read-only frame pointer (stack grows down from it, 512 bytes). On entry R1 points to the program context
 * (`struct xdp_md` for XDP, `struct __sk_buff` for TC).
 *
 * Example, an XDP program redirecting every frame to a DEVMAP entry 0 (the in-kernel forwarder):
 *
 *     const a = new BpfAsm();
 *     a.ldMapFd(R1, devmapFd);       // r1 = &devmap
 *     a.mov64Imm(R2, 0);             // r2 = key 0
 *     a.mov64Imm(R3, 0);             // r3 = flags (action when the entry is missing: XDP_ABORTED)
 *     a.call(BPF_FUNC.redirect_map); // r0 = bpf_redirect_map(r1, r2, r3)
 *     a.exit();                      // return r0
 *     const fd = loadProgram({ type: BPF_PROG_TYPE_XDP, insns: a.assemble(), expectedAttachType: BPF_XDP });
 *
 * Conditional code uses labels: `a.jmpImm('jne', R0, 0, 'out')` … `a.label('out')`.
 */
import { IxyError } from '../util/errors.js';

export const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5, R6 = 6, R7 = 7, R8 = 8, R9 = 9, R10 = 10;

// Instruction classes (bpf_common.h / bpf.h).
const LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, JMP32 = 0x06, ALU64 = 0x07;
// Size and mode for loads and stores.
const SIZE = { w: 0x00, h: 0x08, b: 0x10, dw: 0x18 } as const;
const MODE_IMM = 0x00, MODE_MEM = 0x60;
// Source operand: immediate (K) or register (X).
const K = 0x00, X = 0x08;

export type Size = keyof typeof SIZE;

export const ALU_OPS = {
  add: 0x00, sub: 0x10, mul: 0x20, div: 0x30, or: 0x40, and: 0x50, lsh: 0x60, rsh: 0x70,
  neg: 0x80, mod: 0x90, xor: 0xa0, mov: 0xb0, arsh: 0xc0,
} as const;
export type AluOp = keyof typeof ALU_OPS;

/** Conditional jumps; the unsigned ones are jgt/jge/jlt/jle, the signed ones have an `s`. */
export const JMP_OPS = {
  jeq: 0x10, jgt: 0x20, jge: 0x30, jset: 0x40, jne: 0x50, jsgt: 0x60, jsge: 0x70,
  jlt: 0xa0, jle: 0xb0, jslt: 0xc0, jsle: 0xd0,
} as const;
export type JmpOp = keyof typeof JMP_OPS;
const JA = 0x00, CALL = 0x80, EXIT = 0x90;

/** Helper function ids (enum bpf_func_id in include/uapi/linux/bpf.h, `___BPF_FUNC_MAPPER`). */
export const BPF_FUNC = {
  map_lookup_elem: 1,
  map_update_elem: 2,
  map_delete_elem: 3,
  ktime_get_ns: 5,
  trace_printk: 6,
  redirect: 23,
  xdp_adjust_head: 44,
  redirect_map: 51,
  xdp_adjust_tail: 65,
} as const;

/** src_reg of an ld_imm64 whose imm is a map fd the kernel replaces by the map's address (bpf.h). */
export const BPF_PSEUDO_MAP_FD = 1;

interface Insn {
  op: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  /** Jump target, resolved to `off` by assemble(). */
  label?: string;
}

export class BpfAsm {
  private readonly insns: Insn[] = [];
  private readonly labels = new Map<string, number>();

  /** Instruction slots so far (ldImm64 counts two). */
  get length(): number {
    return this.insns.length;
  }

  // ---- ALU ----

  /** dst = dst <op> imm on 64 bits (`mov`: dst = imm, sign-extended). */
  alu64Imm(op: AluOp, dst: number, imm: number): this {
    return this.emit(ALU64 | ALU_OPS[op] | K, dst, 0, 0, imm);
  }

  /** dst = dst <op> src on 64 bits. */
  alu64Reg(op: AluOp, dst: number, src: number): this {
    return this.emit(ALU64 | ALU_OPS[op] | X, dst, src, 0, 0);
  }

  /** 32-bit variant: operates on the low halves and zeroes the upper 32 bits of dst. */
  alu32Imm(op: AluOp, dst: number, imm: number): this {
    return this.emit(ALU | ALU_OPS[op] | K, dst, 0, 0, imm);
  }

  alu32Reg(op: AluOp, dst: number, src: number): this {
    return this.emit(ALU | ALU_OPS[op] | X, dst, src, 0, 0);
  }

  mov64Imm(dst: number, imm: number): this {
    return this.alu64Imm('mov', dst, imm);
  }

  mov64Reg(dst: number, src: number): this {
    return this.alu64Reg('mov', dst, src);
  }

  add64Imm(dst: number, imm: number): this {
    return this.alu64Imm('add', dst, imm);
  }

  // ---- memory ----

  /** dst = *(size *)(src + off). */
  ldx(size: Size, dst: number, src: number, off: number): this {
    return this.emit(LDX | MODE_MEM | SIZE[size], dst, src, off, 0);
  }

  /** *(size *)(dst + off) = src. */
  stx(size: Size, dst: number, off: number, src: number): this {
    return this.emit(STX | MODE_MEM | SIZE[size], dst, src, off, 0);
  }

  /** *(size *)(dst + off) = imm. */
  st(size: Size, dst: number, off: number, imm: number): this {
    return this.emit(ST | MODE_MEM | SIZE[size], dst, 0, off, imm);
  }

  /** dst = a 64-bit constant (two slots). */
  ldImm64(dst: number, value: bigint | number): this {
    const v = BigInt.asUintN(64, BigInt(value));
    return this.ld64(dst, 0, Number(v & 0xffff_ffffn), Number(v >> 32n));
  }

  /** dst = address of the map behind `fd` (two slots; the verifier substitutes the map pointer). */
  ldMapFd(dst: number, fd: number): this {
    return this.ld64(dst, BPF_PSEUDO_MAP_FD, fd, 0);
  }

  // ---- control flow ----

  /** Marks the next instruction as the target `name`. */
  label(name: string): this {
    if (this.labels.has(name)) throw new IxyError(`bpf-asm: label '${name}' defined twice`);
    this.labels.set(name, this.insns.length);
    return this;
  }

  /** goto label. */
  ja(label: string): this {
    return this.emit(JMP | JA, 0, 0, 0, 0, label);
  }

  /** if (dst <op> imm) goto label — 64-bit compare. */
  jmpImm(op: JmpOp, dst: number, imm: number, label: string): this {
    return this.emit(JMP | JMP_OPS[op] | K, dst, 0, 0, imm, label);
  }

  /** if (dst <op> src) goto label — 64-bit compare. */
  jmpReg(op: JmpOp, dst: number, src: number, label: string): this {
    return this.emit(JMP | JMP_OPS[op] | X, dst, src, 0, 0, label);
  }

  /** if ((u32)dst <op> imm) goto label. */
  jmp32Imm(op: JmpOp, dst: number, imm: number, label: string): this {
    return this.emit(JMP32 | JMP_OPS[op] | K, dst, 0, 0, imm, label);
  }

  /** r0 = helper(r1..r5); clobbers r1–r5. */
  call(helper: number): this {
    return this.emit(JMP | CALL, 0, 0, 0, helper);
  }

  /** return r0. */
  exit(): this {
    return this.emit(JMP | EXIT, 0, 0, 0, 0);
  }

  // ---- output ----

  /** The program as bytes for BPF_PROG_LOAD (`insns`, `insn_cnt` = length / 8). */
  assemble(): Uint8Array {
    const out = new Uint8Array(this.insns.length * 8);
    const dv = new DataView(out.buffer);
    this.insns.forEach((ins, pc) => {
      let off = ins.off;
      if (ins.label !== undefined) {
        const target = this.labels.get(ins.label);
        if (target === undefined) throw new IxyError(`bpf-asm: jump to undefined label '${ins.label}'`);
        off = target - (pc + 1);
        if (off < -0x8000 || off > 0x7fff) throw new IxyError(`bpf-asm: jump to '${ins.label}' is too far (${off} slots)`);
      }
      dv.setUint8(pc * 8, ins.op);
      dv.setUint8(pc * 8 + 1, (ins.src << 4) | ins.dst);
      dv.setInt16(pc * 8 + 2, off, true);
      dv.setInt32(pc * 8 + 4, ins.imm, true);
    });
    return out;
  }

  private ld64(dst: number, src: number, lo: number, hi: number): this {
    this.emit(LD | MODE_IMM | SIZE.dw, dst, src, 0, lo);
    return this.emit(0, 0, 0, 0, hi); // second slot: opcode 0, upper 32 bits in imm
  }

  private emit(op: number, dst: number, src: number, off: number, imm: number, label?: string): this {
    checkReg(dst);
    checkReg(src);
    if (!Number.isInteger(off) || off < -0x8000 || off > 0x7fff) throw new IxyError(`bpf-asm: offset ${off} does not fit in 16 bits`);
    if (!Number.isInteger(imm) || imm < -0x8000_0000 || imm > 0xffff_ffff) throw new IxyError(`bpf-asm: immediate ${imm} does not fit in 32 bits`);
    this.insns.push({ op, dst, src, off, imm: imm | 0, label });
    return this;
  }
}

function checkReg(r: number): void {
  if (!Number.isInteger(r) || r < 0 || r > 10) throw new IxyError(`bpf-asm: register ${r} does not exist (r0..r10)`);
}
