"""Independent NumPy reference of kvlab's KV eviction policies.

Written from the papers / upstream code, not from the C++ (kvcache/policies/):
  * StreamingLLM (Xiao et al. 2023): first n_sink + last n_recent tokens.
  * H2O (Zhang et al. 2023): last `recent` tokens + the `heavy` older tokens
    with the largest accumulated attention mass (mean over a KV group's query heads).
  * SnapKV (Li et al. 2024; KVCache-Factory SnapKVCluster): softmax of the
    window queries over all keys (causal inside the window, f32), summed over
    the window for the prefix keys, avg/max pool1d (padding kernel//2,
    count_include_pad), mean over the group's query heads, top (capacity-window)
    + the window.
  * PyramidKV (Cai et al. 2024; PyramidKVCluster.update_kv): SnapKV scoring with
    per-layer budgets min_num = T // beta, max_num = 2T - min_num (clamped to
    n - window), a straight line from max_num (layer 0) to min_num (last layer).
    Upstream floors the per-layer step; kvlab rounds the exact line instead so
    the mean budget is T within one token (see pyramid_budgets).
  * ChunkKV (Liu et al. 2025): window scores without pooling averaged over all
    query heads of the layer, summed per chunk; chunks taken by descending
    score until the budget, the last one taken trimmed to its first tokens;
    one index set per layer; layer l reuses layer l - l % reuse_layers.
Ties keep the lower index (stable descending argsort).
"""
import numpy as np

MASK64 = (1 << 64) - 1


class Lcg:
    """The deterministic generator the C++ tests share (kv_policy_test.cc)."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def uniform(self, count):
        out = np.empty(count, dtype=np.float32)
        s = self.state
        for i in range(count):
            s = (s * 6364136223846793005 + 1442695040888963407) & MASK64
            out[i] = np.float32(((s >> 40) & 0xFFFFFF) / 16777216.0)
        self.state = s
        return out

    def symmetric(self, count, scale):
        return (self.uniform(count) * np.float32(2) - np.float32(1)) * np.float32(scale)


def make_inputs(seed, layers, n, kv_heads, q_heads, head_dim, window, with_mass):
    """Per layer: K [kv, n, hd], V [kv, n, hd], Q [w, hq, hd], mass [hq, n] (or None)."""
    g = Lcg(seed)
    out = []
    for _ in range(layers):
        k = g.symmetric(kv_heads * n * head_dim, 1.0).reshape(kv_heads, n, head_dim)
        v = g.symmetric(kv_heads * n * head_dim, 1.0).reshape(kv_heads, n, head_dim)
        w = min(window, n)
        q = g.symmetric(w * q_heads * head_dim, 4.0).reshape(w, q_heads, head_dim)
        mass = g.uniform(q_heads * n).reshape(q_heads, n) if with_mass else None
        out.append((k, v, q, mass))
    return out


def stable_topk(scores, k):
    order = np.argsort(-scores, kind="stable")
    return np.sort(order[:k])


def pool1d(x, kernel, pool):
    if kernel <= 1:
        return x.copy()
    r = kernel // 2
    n = x.shape[0]
    if pool == "avg":
        padded = np.concatenate([np.zeros(r, np.float32), x, np.zeros(r, np.float32)])
        return np.array([padded[j:j + kernel].sum(dtype=np.float32) / np.float32(kernel) for j in range(n)],
                        dtype=np.float32)
    padded = np.concatenate([np.full(r, -np.inf, np.float32), x, np.full(r, -np.inf, np.float32)])
    return np.array([padded[j:j + kernel].max() for j in range(n)], dtype=np.float32)


def window_scores(q, k_head, q_heads_of_group, kernel, pool):
    """q [w, hq, hd], k_head [n, hd] -> [n - w] (mean over the listed query heads)."""
    w, _, hd = q.shape
    n = k_head.shape[0]
    prefix = n - w
    acc = np.zeros(prefix, np.float32)
    for qh in q_heads_of_group:
        logits = (q[:, qh, :] @ k_head.T) * np.float32(1.0 / np.sqrt(np.float32(hd)))
        mask = np.arange(n)[None, :] > (prefix + np.arange(w))[:, None]
        logits = np.where(mask, -np.inf, logits).astype(np.float32)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits).astype(np.float32)
        p /= p.sum(axis=1, keepdims=True)
        summed = p[:, :prefix].sum(axis=0, dtype=np.float32)
        acc += pool1d(summed, kernel, pool)
    return acc / np.float32(len(q_heads_of_group))


def streaming(n, n_sink, n_recent):
    if n <= n_sink + n_recent:
        return np.arange(n)
    return np.concatenate([np.arange(n_sink), np.arange(n - n_recent, n)])


def pyramid_budgets(layers, n, capacity, window, beta):
    t = capacity - window
    if n < capacity:
        return [n - window] * layers
    if n < 2 * t or layers == 1:
        return [t] * layers
    min_num = t // beta
    max_num = 2 * t - min_num
    if max_num >= n - window:
        max_num = n - window
        min_num = 2 * t - max_num
    # Round half away from zero, like C++ llround.
    return [max_num - int(np.floor(l * (max_num - min_num) / (layers - 1) + 0.5)) for l in range(layers)]


def chunk_select(scores, budget, chunk, n):
    p = scores.shape[0]
    chunks = (p + chunk - 1) // chunk
    cs = np.array([scores[c * chunk:min(p, (c + 1) * chunk)].sum(dtype=np.float32) for c in range(chunks)],
                  dtype=np.float32)
    kept = []
    left = budget
    for c in np.argsort(-cs, kind="stable"):
        if left <= 0:
            break
        begin = c * chunk
        take = min(min(chunk, p - begin), left)
        kept.extend(range(begin, begin + take))
        left -= take
    return np.concatenate([np.sort(np.array(kept, dtype=np.int64)), np.arange(p, n)]), cs


def kept_sets(case, inputs):
    """Returns kept[l][h] (lists) for a case dict (see make_fixtures.py)."""
    policy = case["policy"]
    n, hkv, hq = case["n"], case["kv_heads"], case["q_heads"]
    layers = case["layers"]
    group = hq // hkv
    out = [[None] * hkv for _ in range(layers)]
    if policy == "streamingllm":
        s = streaming(n, case["n_sink"], case["n_recent"])
        return [[s.tolist() for _ in range(hkv)] for _ in range(layers)]
    if policy == "h2o":
        heavy, recent = case["heavy"], case["recent"]
        for l in range(layers):
            mass = inputs[l][3]
            for h in range(hkv):
                if n <= heavy + recent:
                    out[l][h] = list(range(n))
                    continue
                m = mass[h * group:(h + 1) * group, :n - recent].sum(axis=0, dtype=np.float32) / np.float32(group)
                out[l][h] = np.concatenate([stable_topk(m, heavy), np.arange(n - recent, n)]).tolist()
        return out
    w, cap = case["window"], case["capacity"]
    if n <= cap:
        return [[list(range(n)) for _ in range(hkv)] for _ in range(layers)]
    if policy == "chunkkv":
        reuse = case["reuse_layers"]
        for l in range(layers):
            if l % reuse:
                out[l] = [list(x) for x in out[l - l % reuse]]
                continue
            k, _, q, _ = inputs[l]
            mean = np.zeros(n - w, np.float32)
            for h in range(hkv):
                mean += window_scores(q, k[h], range(h * group, (h + 1) * group), 1, "avg")
            mean /= np.float32(hkv)
            rows, _ = chunk_select(mean, cap - w, case["chunk"], n)
            out[l] = [rows.tolist() for _ in range(hkv)]
        return out
    budgets = (pyramid_budgets(layers, n, cap, w, case["beta"]) if policy == "pyramidkv" else [cap - w] * layers)
    for l in range(layers):
        k, _, q, _ = inputs[l]
        for h in range(hkv):
            s = window_scores(q, k[h], range(h * group, (h + 1) * group), case["kernel"], case["pool"])
            out[l][h] = np.concatenate([stable_topk(s, budgets[l]), np.arange(n - w, n)]).tolist()
    return out


def selection_margin(case, inputs):
    """Smallest relative gap between the last kept and first dropped score over
    all selections (inf when a selection keeps everything); exact ties of the
    same value (max pooling) are not gaps."""
    policy = case["policy"]
    n, hkv, hq, layers = case["n"], case["kv_heads"], case["q_heads"], case["layers"]
    group = hq // hkv
    worst = np.inf

    def gap(scores, k):
        nonlocal worst
        if k <= 0 or k >= scores.shape[0]:
            return
        s = np.sort(scores)[::-1]
        a, b = float(s[k - 1]), float(s[k])
        if a == b:
            return  # an exact tie, broken by index identically on both sides
        worst = min(worst, (a - b) / max(abs(a), 1e-30))

    if policy == "streamingllm":
        return worst
    if policy == "h2o":
        heavy, recent = case["heavy"], case["recent"]
        if n <= heavy + recent:
            return worst
        for l in range(layers):
            for h in range(hkv):
                m = inputs[l][3][h * group:(h + 1) * group, :n - recent].sum(axis=0, dtype=np.float32) / group
                gap(m, heavy)
        return worst
    w, cap = case["window"], case["capacity"]
    if n <= cap:
        return worst
    if policy == "chunkkv":
        for l in range(0, layers, case["reuse_layers"]):
            k, _, q, _ = inputs[l]
            mean = np.zeros(n - w, np.float32)
            for h in range(hkv):
                mean += window_scores(q, k[h], range(h * group, (h + 1) * group), 1, "avg")
            mean /= np.float32(hkv)
            _, cs = chunk_select(mean, cap - w, case["chunk"], n)
            # Every chunk boundary of the greedy walk matters: check them all.
            s = np.sort(cs)[::-1]
            for i in range(len(s) - 1):
                if s[i] != s[i + 1]:
                    worst = min(worst, float((s[i] - s[i + 1]) / max(abs(s[i]), 1e-30)))
        return worst
    budgets = (pyramid_budgets(layers, n, cap, w, case["beta"]) if policy == "pyramidkv" else [cap - w] * layers)
    for l in range(layers):
        k, _, q, _ = inputs[l]
        for h in range(hkv):
            gap(window_scores(q, k[h], range(h * group, (h + 1) * group), case["kernel"], case["pool"]), budgets[l])
    return worst
