"""Chinese (zh) text of the ops (GET /api/ops) and of the datasets' descriptions (GET
/api/datasets/{name}): presentation data, kept out of the engine.

Each op's description is written again in Chinese; its formula and local derivatives are
maths and are reused as they are, unless they hold words (then they are written here too,
one per input). tests/test_translations.py fails when an op of the registry or a dataset
has no entry here, or when an entry has the wrong number of derivatives.
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


DATASETS_ZH: dict[str, str] = {
    "boston": "波士顿房价数据（Harrison 和 Rubinfeld，1978）：波士顿地区 506 个城镇和郊区，"
    "13 个特征（CRIM 犯罪率、ZN、INDUS、CHAS 是否临河、NOX 空气污染、RM 每户平均房间数、AGE、"
    "DIS 到就业中心的距离、RAD、TAX、PTRATIO 师生比、B、LSTAT 低收入人口比例），目标是 MEDV，"
    "即房价中位数（单位：千美元）。给课堂的提示：B 列是 1000(Bk - 0.63)^2，其中 Bk 是各城镇黑人"
    "居民的比例，这种编码假设种族隔离会影响房价；因此 scikit-learn 在 1.0 版中弃用了这个数据集，"
    "并在 1.2 版中将其移除，使用之前值得先讨论。来源：scikit-learn 1.1.3 附带的副本（BSD 3-Clause "
    "许可证，(c) 2007-2021 scikit-learn 开发者），数据取自 StatLib 和 UCI 数据库。",
    "line": "一个特征 x，在 [-1, 1] 上均匀分布，y = slope * x + intercept "
    "再加上高斯噪声：最小的回归问题，一个 Linear 节点就够了。",
    "xor": "正方形 [-1, 1]^2 中的点，x1 * x2 > 0（第一、三象限）处标签为 1，"
    "其余为 0，再加上抖动：没有一条直线能把两类分开，所以需要一个隐藏层。",
    "moons": "两个交错的半圆（scikit-learn 的 make_moons 公式），标签为 0 和 1，"
    "加上高斯噪声的抖动。",
    "circles": "两个同心圆（scikit-learn 的 make_circles 公式）：半径为 1 的外圆标签为 0，半径为 "
    "`factor` 的内圆标签为 1。",
    "spiral": "绕原点交错的两条螺旋臂，标签为 0 和 1：对小网络来说很难，是检验网络深度和训练时间的"
    "好例子。",
}
