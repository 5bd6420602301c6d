"""Chinese (zh) text of the ops, for GET /api/ops: presentation data, kept out of the engine.

Each op's description is written again in Chinese; its formula and local derivatives are
maths and are reused as they are, unless they hold words (then they are written here too,
one per input). tests/test_translations.py fails when an op of the registry has no entry
here, or when an entry has the wrong number of derivatives.
"""

from __future__ import annotations

OPS_ZH: dict[str, dict] = {
    "input": {
        "description": "从外部送入的值（课程中的 Placeholder）；不参与训练。",
        "formula": "x = 送入的值",
    },
    "param": {
        "description": "可训练的参数，由梯度下降更新。",
        "formula": "w = 参数的当前值",
    },
    "const": {
        "description": "常量；不为它计算梯度。",
        "formula": "c = 常量",
    },
    "add": {"description": "逐元素相加，支持 numpy 广播。"},
    "sub": {"description": "逐元素相减，支持 numpy 广播。"},
    "mul": {"description": "逐元素相乘，支持 numpy 广播。"},
    "div": {"description": "逐元素相除，支持 numpy 广播。"},
    "pow": {"description": "逐元素求幂；指数是第二个输入。"},
    "neg": {"description": "取相反数。"},
    "square": {"description": "逐元素平方。"},
    "sqrt": {"description": "逐元素开平方；负数的平方根为 NaN。"},
    "abs": {
        "description": "绝对值；与 PyTorch 一样，它在 0 处的导数取 0。",
        "derivatives": ["d |u|/du = sign(u)（u = 0 时为 0）"],
    },
    "sigmoid": {"description": "logistic 函数，把任意实数压缩到 (0, 1) 之间。"},
    "relu": {
        "description": "线性整流单元：负值变为 0。",
        "derivatives": ["d relu(u)/du = 1（u > 0 时），否则为 0"],
    },
    "tanh": {"description": "双曲正切，把任意实数压缩到 (-1, 1) 之间。"},
    "exp": {"description": "逐元素取指数。"},
    "log": {"description": "自然对数；log(0) 为 -inf，负数的对数为 NaN。"},
    "softmax": {
        "description": "沿某个轴（默认最后一个轴）做 softmax：结果为正，且和为 1。",
        "derivatives": ["d softmax(u)/du = s * (g - sum(g * s))，其中 s = softmax(u)"],
    },
    "log_softmax": {
        "description": "沿某个轴（默认最后一个轴）求 log(softmax(u))，按 "
        "u - max(u) - log(sum(exp(u - max(u)))) 计算：即使 softmax 会舍入为 0，结果也是有限值。",
    },
    "transpose": {
        "description": "交换张量的轴：默认把轴的顺序倒过来（二维时就是矩阵转置）。",
        "derivatives": ["d(u^T)/du：把传入的梯度按原顺序换回"],
    },
    "reshape": {
        "description": "同样的元素，换成新的形状（`shape`，最多一个 -1 由其余维度推出）。",
        "derivatives": ["d reshape(u)/du：把传入的梯度变回原来的形状"],
    },
    "sum": {"description": "所有元素之和，或沿 `axis` 中各轴求和（keepdims 把这些轴保留为 1）。"},
    "mean": {"description": "所有元素的平均值，或沿 `axis` 中各轴求平均；空张量的平均值为 NaN。"},
    "max": {
        "description": "最大的元素，或沿 `axis` 中各轴的最大值；并列最大时平分梯度。",
        "derivatives": ["d max(u)/du_i = 1 / (并列最大的个数)（u_i == max(u) 时），否则为 0"],
    },
    "matmul": {"description": "一维或二维张量的矩阵乘法。"},
    "linear": {
        "description": "仿射变换 x @ w + b；x 或 w 是标量时为 x * w + b（课程中的 Linear）。",
        "derivatives": [
            "d linear/dx: dx = dY @ w^T（标量时为 dY * w）",
            "d linear/dw: dw = x^T @ dY（标量时为 dY * x）",
            "d linear/db = 1: db = dY 按批次的各行求和",
        ],
    },
    "mse": {"description": "真实值 y 与预测值 yhat 之间的均方误差。"},
    "bce": {
        "description": "标签 y 与概率 p 之间的二元交叉熵，与 PyTorch 的 binary_cross_entropy "
        "相同：每个 log 的下限为 -100，所以 p = 0 或 1 时损失仍是有限值；p 超出 [0, 1] 时为 NaN"
        "（PyTorch 会直接拒绝）。",
    },
    "cross_entropy": {
        "description": "类别概率 y（one-hot 标签或任意分布）与 logits z 沿 `axis`（默认最后一个轴）"
        "的交叉熵，再对其余元素求平均；经由 log_softmax 计算，所以很大的 logits 也不会溢出。"
        "相当于 PyTorch 中以概率为目标的 cross_entropy。",
    },
}


def op_in_chinese(op: dict) -> dict:
    """`op` (an item of describe_ops) with description_zh, formula_zh and derivatives_zh."""
    zh = OPS_ZH.get(op["name"], {})
    return {
        **op,
        "description_zh": zh.get("description", op["description"]),
        "formula_zh": zh.get("formula", op["formula"]),
        "derivatives_zh": list(zh.get("derivatives", op["derivatives"])),
    }
