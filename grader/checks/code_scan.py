"""Static facts about transfer-learning code, for the ``code_evidence`` check.

``scan_source(code)`` walks the AST of one Python file or notebook cell and returns
``Event``s: a backbone constructed (with or without pretrained weights), parameters frozen
or unfrozen (with the loop and condition around them), preprocessing applied. When the
code does not parse, ``scan_text`` finds the same events with regular expressions.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

KERAS_APPS = {
    "InceptionV3": "inception_v3", "InceptionResNetV2": "inception_resnet_v2",
    "Xception": "xception", "VGG16": "vgg16", "VGG19": "vgg19", "ResNet50": "resnet50",
    "ResNet101": "resnet", "ResNet152": "resnet", "ResNet50V2": "resnet_v2",
    "ResNet101V2": "resnet_v2", "ResNet152V2": "resnet_v2", "MobileNet": "mobilenet",
    "MobileNetV2": "mobilenet_v2", "MobileNetV3Small": "mobilenet_v3",
    "MobileNetV3Large": "mobilenet_v3", "DenseNet121": "densenet", "DenseNet169": "densenet",
    "DenseNet201": "densenet", "NASNetMobile": "nasnet", "NASNetLarge": "nasnet",
    **{f"EfficientNetB{i}": "efficientnet" for i in range(8)},
    **{f"EfficientNetV2{s}": "efficientnet_v2" for s in ("B0", "B1", "B2", "B3", "S", "M", "L")},
    **{f"ConvNeXt{s}": "convnext" for s in ("Tiny", "Small", "Base", "Large", "XLarge")},
}  # fmt: skip
_KERAS_MODULE_ALIASES = {"resnet50": {"resnet50", "resnet"}, "resnet": {"resnet", "resnet50"}}
TORCHVISION_MODEL = re.compile(
    r"^(resnet\d+|resnext\w+|wide_resnet\w+|vgg\d+(_bn)?|alexnet|densenet\d+|mobilenet_v[23]\w*"
    r"|efficientnet_\w+|inception_v3|googlenet|convnext_\w+|regnet_\w+|vit_\w+|swin_\w+"
    r"|squeezenet\w+|shufflenet\w+|mnasnet\w+|maxvit\w+)$"
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SUBSET_HINT = re.compile(
    r"layer[1-4]|features\s*\[|block\s*\d|conv[45]|mixed_?\d|denseblock|stage\s*\d|blocks\s*\["
    r"|\[\s*-?\s*\w*\s*:\s*-?\w*\s*\]|children\(\)\)\s*\[|named_(parameters|children|modules)"
)
HEAD_HINT = re.compile(r"\b(fc|classifier|head|heads|top|dense\w*|logits|predictions|output)\b")


@dataclass
class Event:
    kind: str  # backbone | no_weights | freeze | unfreeze | flag_unknown | preprocess | ...
    line: int
    code: str
    detail: str = ""
    subset: bool = False  # freeze/unfreeze: a slice, a named sub-module or a condition
    head: bool = False  # unfreeze of the new head only
    whole: bool = False  # freeze/unfreeze of a whole model
    module: str = ""  # backbone: Keras module name; preprocess: Keras module it comes from
    tags: dict[str, str] = field(default_factory=dict)


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.append(_dotted(node.func) + "()")
    return ".".join(reversed(parts))


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_const(node: ast.AST | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


class _Scanner(ast.NodeVisitor):
    def __init__(self, source: str):
        self.lines = source.splitlines()
        self.imports: dict[str, str] = {}
        self.constants: dict[str, ast.expr] = {}
        self.loops: list[ast.For] = []
        self.conditions: list[ast.If] = []
        self.events: list[Event] = []

    def code(self, node: ast.AST) -> str:
        line = getattr(node, "lineno", 0)
        return self.lines[line - 1].strip()[:200] if 0 < line <= len(self.lines) else ""

    def add(self, kind: str, node: ast.AST, **kw: object) -> None:
        self.events.append(Event(kind, getattr(node, "lineno", 0), self.code(node), **kw))

    def resolve(self, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        full = self.imports.get(head, head)
        return f"{full}.{rest}" if rest else full

    # ---- structure ------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imports[alias.asname or alias.name.split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0]
            )

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            self.imports[alias.asname or alias.name] = f"{node.module or ''}.{alias.name}"
            if alias.name == "preprocess_input":
                self.add("preprocess", node, module=(node.module or "").split(".")[-1])

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.constants[target.id] = node.value
            if isinstance(target, ast.Attribute) and target.attr in ("requires_grad", "trainable"):
                self.flag(node, target.value, node.value)
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        self.loops.append(node)
        for child in node.body + node.orelse:
            self.visit(child)
        self.loops.pop()
        self.visit(node.iter)

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        self.conditions.append(node)
        for child in node.body + node.orelse:
            self.visit(child)
        self.conditions.pop()

    # ---- freezing -------------------------------------------------------------------
    def flag(self, node: ast.AST, target: ast.AST, value: ast.AST | None) -> None:
        if _is_const(value, False):
            kind = "freeze"
        elif value is None or _is_const(value, True):
            kind = "unfreeze"
        else:
            self.add("flag_unknown", node, detail="set from an expression")
            return
        loop_iters = [ast.unparse(loop.iter) for loop in self.loops]
        target_text = ast.unparse(target)
        scope = " ".join([*loop_iters, target_text])
        conditional = bool(self.loops) and any(
            c.lineno > self.loops[0].lineno for c in self.conditions
        )
        sliced = any(
            isinstance(loop.iter, ast.Subscript) and isinstance(loop.iter.slice, ast.Slice)
            for loop in self.loops
        ) or (isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Slice))
        subset = sliced or conditional or bool(SUBSET_HINT.search(scope))
        head = not subset and bool(HEAD_HINT.search(scope))
        whole = not subset and not head
        self.add(kind, node, subset=subset, head=head, whole=whole, detail=scope[:120])

    # ---- calls ----------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        dotted = _dotted(node.func)
        name = dotted.rsplit(".", 1)[-1]
        full = self.resolve(dotted)
        if name == "requires_grad_" and isinstance(node.func, ast.Attribute):
            value = node.args[0] if node.args else _kw(node, "requires_grad")
            self.flag(node, node.func.value, value)
        elif name in KERAS_APPS:
            weights = _kw(node, "weights")
            if _is_const(weights, None):
                self.add("no_weights", node, detail=f"{name}(weights=None)")
            else:
                self.add("backbone", node, module=KERAS_APPS[name], detail=f"Keras {name}")
        elif TORCHVISION_MODEL.match(name) and ("torchvision" in full or "models" in dotted):
            self.torch_backbone(node, name)
        elif name == "get_model" and ("torchvision" in full or "models" in dotted):
            self.torch_backbone(node, "get_model")
        elif name == "create_model" and "timm" in full:
            if _is_const(_kw(node, "pretrained"), True):
                self.add("backbone", node, detail="timm create_model(pretrained=True)")
            else:
                self.add("no_weights", node, detail="timm create_model without pretrained=True")
        elif name == "from_pretrained":
            self.add("backbone", node, detail=f"{dotted}()")
            if re.search(r"ImageProcessor|FeatureExtractor", dotted):
                self.add("preprocess_match", node, detail="the model's own image processor")
        elif name == "load" and "hub" in dotted:
            pretrained = _kw(node, "pretrained") or _kw(node, "weights")
            kind = (
                "backbone"
                if pretrained is not None and not _is_const(pretrained, False)
                else "backbone_maybe"
            )
            self.add(kind, node, detail=f"{dotted}()")
        elif name == "KerasLayer":
            self.add("backbone", node, detail="TensorFlow Hub KerasLayer")
        elif name in ("load_state_dict", "load_weights", "load_model") or dotted == "torch.load":
            self.add("backbone_maybe", node, detail=f"{dotted}(): weights loaded from a file")
        elif name == "transforms" and re.search(r"weights|Weights", ast.unparse(node.func.value)
                                                if isinstance(node.func, ast.Attribute) else ""):  # fmt: skip
            self.add("preprocess_match", node, detail="the weights' own transforms()")
        elif name == "Normalize":
            self.normalize(node)
        elif name in ("resolve_data_config", "resolve_model_data_config", "create_transform"):
            self.add("preprocess_match", node, detail=f"timm {name}")
        elif name in ("Rescaling", "ImageDataGenerator") or (
            "optim" in full and HEAD_HINT.search(ast.unparse(node))
        ):
            self.add("candidate", node, detail=f"{dotted}()")
        self.generic_visit(node)

    def torch_backbone(self, node: ast.Call, name: str) -> None:
        weights, pretrained = _kw(node, "weights"), _kw(node, "pretrained")
        if _is_const(pretrained, True) or (weights is not None and not _is_const(weights, None)):
            self.add("backbone", node, detail=f"torchvision {name} with pretrained weights")
        else:
            self.add("no_weights", node, detail=f"torchvision {name} without weights")

    def normalize(self, node: ast.Call) -> None:
        args = list(node.args) + [None, None]
        mean = _kw(node, "mean") or args[0]
        std = _kw(node, "std") or args[1]
        values = []
        for expr in (mean, std):
            if isinstance(expr, ast.Name) and expr.id in self.constants:
                expr = self.constants[expr.id]
            try:
                values.append(tuple(float(v) for v in ast.literal_eval(expr)))
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                values.append(None)
        if values[0] is None or values[1] is None:
            text = " ".join(ast.unparse(e) for e in (mean, std) if e is not None)
            if "IMAGENET" in text.upper():
                self.add("preprocess_match", node, detail="ImageNet mean/std constants")
            else:
                self.add("candidate", node, detail="Normalize with values not known statically")
        elif _close(values[0], IMAGENET_MEAN) and _close(values[1], IMAGENET_STD):
            self.add("preprocess_match", node, detail="ImageNet mean/std")
        else:
            self.add("candidate", node, detail=f"Normalize{tuple(values)}: not ImageNet's")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "preprocess_input":
            parent = self.resolve(_dotted(node.value)).split(".")[-1]
            self.add("preprocess", node, module=parent)
        elif node.attr in ("IMAGENET_DEFAULT_MEAN", "IMAGENET_MEAN"):
            self.add("preprocess_match", node, detail="ImageNet mean/std constants")
        self.generic_visit(node)


def _close(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(abs(x - y) < 2e-3 for x, y in zip(a, b, strict=True))


def keras_module_matches(preprocess_module: str, backbone_module: str) -> bool:
    return preprocess_module == backbone_module or preprocess_module in _KERAS_MODULE_ALIASES.get(
        backbone_module, set()
    )


_MAGIC = re.compile(r"^(\s*)[!%?].*$", re.MULTILINE)


def scan_source(source: str) -> tuple[list[Event], bool]:
    """``(events, parsed)``: AST events, or regex events when the code does not parse.
    IPython magics (``!pip``, ``%matplotlib``) are blanked first, keeping line numbers."""
    cleaned = _MAGIC.sub(lambda m: m.group(1) + "pass", source)
    try:
        tree = ast.parse(cleaned)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return scan_text(source), False
    scanner = _Scanner(cleaned)
    try:
        scanner.visit(tree)
    except RecursionError:  # absurdly nested code: read it as text
        return scan_text(source), False
    return sorted(scanner.events, key=lambda e: e.line), True


_TEXT_RULES = [
    ("backbone", re.compile(r"pretrained\s*=\s*True|weights\s*=\s*['\"](imagenet|DEFAULT|IMAGENET1K\w*)"
                            r"|\w+_Weights\.\w+|from_pretrained\(")),
    ("freeze", re.compile(r"(requires_grad|trainable)\s*=\s*False|requires_grad_\(\s*(requires_grad\s*=\s*)?False")),
    ("unfreeze", re.compile(r"(requires_grad|trainable)\s*=\s*True|requires_grad_\(\s*(True)?\s*\)")),
    ("preprocess_match", re.compile(r"\.transforms\(\)|0\.485\s*,\s*0\.456\s*,\s*0\.406|IMAGENET_DEFAULT_MEAN")),
    ("preprocess", re.compile(r"applications\.(\w+)\.preprocess_input|from\s+[\w.]*?(\w+)\s+import\s+[^\n]*preprocess_input")),
    ("keras_app", re.compile(r"\b(" + "|".join(KERAS_APPS) + r")\s*\(")),
]  # fmt: skip


def scan_text(source: str) -> list[Event]:
    """Regex fallback for code that does not parse; the same event kinds as ``scan_source``."""
    events = []
    lines = source.splitlines()
    for number, line in enumerate(lines, 1):
        for kind, pattern in _TEXT_RULES:
            match = pattern.search(line)
            if not match:
                continue
            code = line.strip()[:200]
            if kind == "keras_app":
                if not re.search(r"weights\s*=\s*None", line):
                    events.append(Event("backbone", number, code, module=KERAS_APPS[match.group(1)],
                                        detail=f"Keras {match.group(1)} (text match)"))  # fmt: skip
            elif kind == "preprocess":
                module = next(g for g in match.groups() if g)
                events.append(Event(kind, number, code, module=module, detail="text match"))
            elif kind in ("freeze", "unfreeze"):
                context = "\n".join(lines[max(0, number - 4) : number])
                subset = bool(SUBSET_HINT.search(context))
                events.append(Event(kind, number, code, subset=subset, whole=not subset,
                                    detail="text match"))  # fmt: skip
            else:
                events.append(Event(kind, number, code, detail="text match"))
    return events
