"""Input pipelines alone (``--pipelines tfdata,pil,torchvision-gpu --stages decode,train,eval
--workers 1,2``) over a generated ImageNet-like JPEG set: images/s and images/s per core."""

from resnet.engine.kinds.pipelines import run_pipeline


def test_pipeline(pipeline_case, benchmark, sweep, settle_case):
    settle_case(run_pipeline(sweep, pipeline_case, benchmark))
