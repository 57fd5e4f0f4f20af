"""LiBai's default ``train`` namespace: how long, how big, how often, where.

Use it from an experiment config and change only what differs::

    from libai.config import get_config

    train = get_config("common/train.py").train
    train.train_iter = 1000

Targets are written as import paths, so this file loads without OneFlow;
they are resolved when the engine instantiates them.
"""

from libai.config import LazyCall

# fmt: off
train = dict(
    # Directory where checkpoints, logs, metrics and config.yaml are written.
    output_dir="./output",

    # Samples per step on each data-parallel rank, before gradient accumulation.
    # train_mini_batch_size = train_micro_batch_size * num_accumulation_steps.
    train_micro_batch_size=32,
    # Samples per optimizer step over all ranks:
    # global_batch_size = train_micro_batch_size * num_accumulation_steps * data_parallel_size.
    # None: computed from the other two. Set two of the three, the engine derives the third.
    global_batch_size=None,
    # Micro-batches accumulated before each optimizer step (None: derived, usually 1).
    num_accumulation_steps=None,

    # Total training iterations (optimizer steps).
    train_iter=10000,
    # Total training epochs; the run lasts max(train_iter, train_epoch * iters_per_epoch).
    train_epoch=0,
    # Samples already consumed; restored from the checkpoint when resuming.
    consumed_train_samples=0,
    consumed_valid_samples=0,
    # Train on this many samples instead of counting iterations (None: unused).
    train_samples=None,

    # Fraction of the total iterations spent warming the learning rate up.
    warmup_ratio=0,

    # First iteration; computed when resuming, rarely set by hand.
    start_iter=0,
    # Continue from the last checkpoint in output_dir (`libai-engine run --resume` sets it).
    resume=False,

    # Automatic mixed precision (fp16 compute, fp32 master weights).
    amp=dict(enabled=False),

    # Recompute activations of each transformer layer in backward to save memory.
    activation_checkpoint=dict(enabled=False),

    # NCCL fusion: size threshold in megabytes and maximum ops fused (0 disables).
    nccl_fusion_threshold_mb=16,
    nccl_fusion_max_ops=24,

    # ZeRO: shard optimizer states (stage 1), plus gradients (2), plus parameters (3).
    zero_optimization=dict(
        enabled=False,
        stage=1,
    ),

    # Checkpoint every `period` iterations, keep the newest `max_to_keep`;
    # `save_model_after_n_epoch` (None: unused) also saves every n epochs.
    checkpointer=dict(period=5000, max_to_keep=100, save_model_after_n_epoch=None),

    # Samples per step on each data-parallel rank during evaluation.
    test_micro_batch_size=32,

    # Evaluation during training.
    evaluation=dict(
        # Whether to evaluate at all.
        enabled=True,
        # What computes the metrics (top-1/top-5 accuracy here).
        evaluator=LazyCall("libai.evaluation.ClsEvaluator")(topk=(1, 5)),
        # Evaluate every this many iterations.
        eval_period=5000,
        # Evaluate once more when training ends.
        eval_after_train=True,
        # At most this many evaluation iterations per evaluation.
        eval_iter=1e5,
        # Evaluate every n epochs instead of every eval_period iterations (None: unused).
        eval_after_n_epoch=None,
        # Metric that decides the best checkpoint, and whether higher ("max") or
        # lower ("min") is better.
        eval_metric="Acc@1",
        eval_mode="max",
    ),

    # Checkpoint to load the model weights from before training or evaluation ("": none).
    load_weight="",

    # Log to the console every this many iterations.
    log_period=20,

    # Extra training hooks, each a LazyCall of a libai.engine.hooks.HookBase.
    hooks=[],

    # Learning-rate schedule; the trainer fills in `optimizer`, `max_iter`
    # and `warmup_iter` from this namespace.
    scheduler=LazyCall("libai.scheduler.WarmupCosineLR")(
        warmup_factor=0.001,
        alpha=0.01,
        warmup_method="linear",
    ),

    # Parallelism: data x tensor x pipeline must equal the number of devices.
    dist=dict(
        data_parallel_size=1,
        tensor_parallel_size=1,
        pipeline_parallel_size=1,
        # Number of layers split across pipeline stages; required when
        # pipeline_parallel_size > 1.
        pipeline_num_layers=None,
        # Stage of each layer, e.g. [0, 0, 0, 1] (None: balanced automatically).
        custom_pipeline_stage_id=None,
        # "cuda" or "cpu" (None: "cuda" when a GPU is available, else "cpu").
        device_type=None,
        # Machines and processes per machine; None: read from the launcher's
        # environment (the engine writes the actual values into config.yaml).
        num_nodes=None,
        num_gpus_per_node=None,
    ),

    # Device that input tensors are placed on before the model ("cpu" or "cuda").
    # LiBai defaults to "cuda"; this build runs OneFlow on CPU.
    input_placement_device="cpu",

    # RDMA between nodes for pipeline parallelism (needs RDMA hardware).
    rdma_enabled=False,

    # Random seed; a fixed seed improves, but does not guarantee, reproducibility.
    seed=1234,
)
# fmt: on
