#!/usr/bin/env python3
"""Writes the GGUF fuzz target's seed corpus: a tiny but complete dense Llama model and a tiny
MoE model (SentencePiece vocabulary, F32/F16/Q8_0 tensors), small enough for fast mutation.
Usage: make_seeds.py OUT_DIR"""
import os
import random
import struct
import sys

def s(x):
    b = x.encode()
    return struct.pack('<Q', len(b)) + b

def kv(key, t, payload):
    return s(key) + struct.pack('<I', t) + payload

def u32(key, v): return kv(key, 4, struct.pack('<I', v))
def f32(key, v): return kv(key, 6, struct.pack('<f', v))
def string(key, v): return kv(key, 8, s(v))
def arr_str(key, items): return kv(key, 9, struct.pack('<IQ', 8, len(items)) + b''.join(s(i) for i in items))
def arr_f32(key, items): return kv(key, 9, struct.pack('<IQ', 6, len(items)) + b''.join(struct.pack('<f', i) for i in items))
def arr_i32(key, items): return kv(key, 9, struct.pack('<IQ', 5, len(items)) + b''.join(struct.pack('<i', i) for i in items))

def tensor_bytes(t, n, rng):
    if t == 0:
        return b''.join(struct.pack('<f', rng.uniform(-0.5, 0.5)) for _ in range(n))
    if t == 1:
        return b''.join(struct.pack('<e', rng.uniform(-0.5, 0.5)) for _ in range(n))
    if t == 8:  # Q8_0: fp16 d + 32 int8
        return b''.join(struct.pack('<e', 0.01) + bytes(rng.randrange(256) for _ in range(32)) for _ in range(n // 32))
    raise ValueError(t)

def model(moe):
    rng = random.Random(7)
    n_embd, n_ff, n_vocab, n_exp = 32, 64, 8, 4
    tokens = ['<unk>', '<s>', '</s>', '\u2581a', '\u2581b', 'a', 'b', '<0x0A>']
    types = [2, 3, 3, 1, 1, 1, 1, 6]
    meta = [string('general.architecture', 'llama'), u32('llama.context_length', 64),
            u32('llama.embedding_length', n_embd), u32('llama.block_count', 1),
            u32('llama.feed_forward_length', n_ff), u32('llama.attention.head_count', 4),
            u32('llama.attention.head_count_kv', 2), f32('llama.rope.freq_base', 10000.0),
            f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
            string('tokenizer.ggml.model', 'llama'), arr_str('tokenizer.ggml.tokens', tokens),
            arr_f32('tokenizer.ggml.scores', [0, 0, 0, -1, -2, -3, -4, 0]),
            arr_i32('tokenizer.ggml.token_type', types),
            u32('tokenizer.ggml.bos_token_id', 1), u32('tokenizer.ggml.eos_token_id', 2)]
    if moe:
        meta += [u32('llama.expert_count', n_exp), u32('llama.expert_used_count', 2)]
    ts = [('token_embd.weight', 1, [n_embd, n_vocab]), ('output_norm.weight', 0, [n_embd]),
          ('output.weight', 8, [n_embd, n_vocab]), ('blk.0.attn_norm.weight', 0, [n_embd]),
          ('blk.0.attn_q.weight', 8, [n_embd, n_embd]), ('blk.0.attn_k.weight', 8, [n_embd, 16]),
          ('blk.0.attn_v.weight', 8, [n_embd, 16]), ('blk.0.attn_output.weight', 8, [n_embd, n_embd]),
          ('blk.0.ffn_norm.weight', 0, [n_embd])]
    if moe:
        ts += [('blk.0.ffn_gate_inp.weight', 0, [n_embd, n_exp]),
               ('blk.0.ffn_gate_exps.weight', 8, [n_embd, n_ff, n_exp]),
               ('blk.0.ffn_up_exps.weight', 8, [n_embd, n_ff, n_exp]),
               ('blk.0.ffn_down_exps.weight', 8, [n_ff, n_embd, n_exp])]
    else:
        ts += [('blk.0.ffn_gate.weight', 8, [n_embd, n_ff]), ('blk.0.ffn_up.weight', 8, [n_embd, n_ff]),
               ('blk.0.ffn_down.weight', 8, [n_ff, n_embd])]
    infos, data, off = b'', b'', 0
    for name, t, ne in ts:
        n = 1
        for d in ne:
            n *= d
        blob = tensor_bytes(t, n, rng)
        infos += s(name) + struct.pack('<I', len(ne)) + b''.join(struct.pack('<Q', d) for d in ne)
        infos += struct.pack('<IQ', t, off)
        blob += b'\0' * (-len(blob) % 32)
        data += blob
        off += len(blob)
    head = b'GGUF' + struct.pack('<IQQ', 3, len(ts), len(meta)) + b''.join(meta) + infos
    head += b'\0' * (-len(head) % 32)
    return head + data

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, moe in (('tiny-dense.gguf', False), ('tiny-moe.gguf', True)):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(model(moe))
