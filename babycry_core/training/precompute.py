"""Fill the on-disk feature cache for a whole corpus, as independent chunked jobs on a backend.

For a large corpus on a Ray cluster (`--backend ray --address ...`) every worker writes into the same
cache folder, which must then be shared storage (BABYCRY_CACHE); the cache key is the feature config
and the file's content, so the training that follows never decodes a file again.
"""
from __future__ import annotations

from babycry_core.features.config import FeatureConfig


def _cache_chunk(job: dict) -> dict:
    from babycry_core.data import manifest as data
    from babycry_core.audio.decode import AudioError
    from babycry_core.features.logmel import clip_features

    cfg = FeatureConfig.from_dict(job["features"])
    failed = {}
    for p in job["paths"]:
        try:
            clip_features(data.resolve_path(p), cfg)
        except (AudioError, OSError) as e:
            failed[p] = str(e)
    return {"done": len(job["paths"]) - len(failed), "failed": failed}


def cache_corpus_features(corpus: str = "donateacry", cfg: FeatureConfig = FeatureConfig(), *,
                          backend: str = "local", address: str | None = None, chunk: int = 64,
                          progress: bool = True) -> dict:
    """Compute (or find) the cached log-mel of every manifest clip. Returns counts and failures."""
    from tqdm import tqdm

    from babycry_core.data import manifest as data
    from babycry_core.training.backends import run_jobs

    paths = data.load_manifest(corpus)["path"].tolist()
    jobs = [{"paths": paths[i : i + chunk], "features": cfg.to_dict()} for i in range(0, len(paths), chunk)]
    bar = tqdm(total=len(paths), desc=f"caching features ({backend})", disable=not progress)
    out = run_jobs(_cache_chunk, jobs, backend=backend, address=address,
                   on_result=lambda job, res: bar.update(len(job["paths"])))
    bar.close()
    done = sum(r.get("done", 0) for _, r in out)
    failed = {p: e for _, r in out for p, e in r.get("failed", {}).items()}
    errors = [r["error"] for _, r in out if "error" in r]
    return {"clips": len(paths), "cached": done, "failed": failed, "job_errors": errors}
