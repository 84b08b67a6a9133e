"""Views written past one machine with Ray Data (the ``ray`` extra): a base store read in
shards, the head applied by GPU actors or CPU workers, the view upserted into Milvus under
the rules of the one write-back sync. Nothing here imports Ray at import time."""

from gst_integrations.stores.ray.sources import ChromaShards, MilvusShards, ShardedSource
from gst_integrations.stores.ray.writeback import write_view_ray

__all__ = ["ChromaShards", "MilvusShards", "ShardedSource", "write_view_ray"]
