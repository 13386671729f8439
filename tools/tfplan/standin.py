"""A stand-in Terraform provider: the real schema of one pinned provider, no cloud behind it.

Terraform runs this as `terraform-provider-<name>` (tools/tfplan/mirror.py installs a wrapper in
a local filesystem mirror). It speaks tfplugin6 through the `tf` package's go-plugin runner and
answers from a schema file built from the CDKTF bindings (tools/provider_schema.py):

- validation accepts whatever the schema allows (Terraform itself checks names, types and
  required arguments against the schema served here);
- planning a create marks every computed attribute that the configuration leaves null as
  unknown, recursively inside nested blocks, as a real provider does: that is what makes
  plan-time `count` / `for_each` errors appear;
- data sources return known placeholder values for their computed attributes;
- there is no apply: this provider exists for `terraform validate` and `terraform plan`.

    terraform-provider-google  ->  python standin.py --schema build/tf-mirror/schemas/google.pb
"""

from __future__ import annotations

import json
import sys
from typing import Any

import msgpack

UNKNOWN = msgpack.ExtType(0, b"\x00")  # cty's msgpack encoding of an unknown value


def _unpack(raw: bytes) -> Any:
    # Unknown (ext 0) and refined unknown (ext 12) values pass through as ExtType unchanged.
    return msgpack.unpackb(raw, raw=False, strict_map_key=False)


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def placeholder(ctype: Any, name: str) -> Any:
    """A known value of cty type `ctype` (JSON notation) for a computed data-source attribute."""
    if ctype == "string":
        return f"standin-{name}"
    if ctype == "number":
        return 0
    if ctype == "bool":
        return False
    if isinstance(ctype, list):
        if ctype[0] in ("list", "set", "tuple"):
            return []
        if ctype[0] == "map":
            return {}
        if ctype[0] == "object":
            return {k: placeholder(t, k) for k, t in ctype[1].items()}
    return None  # dynamic: null


def fill(block: Any, value: dict[str, Any], config: dict[str, Any] | None, known: bool) -> None:
    """Set each computed attribute that the configuration leaves null, at every nesting level:
    unknown when planning a resource, a known placeholder when reading a data source."""
    for attr in block.attributes:
        if not attr.computed or value.get(attr.name) is not None:
            continue
        if config is not None and config.get(attr.name) is not None:
            continue
        value[attr.name] = placeholder(json.loads(attr.type), attr.name) if known else UNKNOWN
    for nested in block.block_types:
        items = value.get(nested.type_name)
        conf = (config or {}).get(nested.type_name)
        if isinstance(items, dict):
            fill(nested.block, items, conf if isinstance(conf, dict) else None, known)
        elif isinstance(items, list):
            confs = conf if isinstance(conf, list) and len(conf) == len(items) else []
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    fill(nested.block, item, confs[i] if confs else None, known)


def serve(schema_file: str) -> None:
    import grpc
    import tf.provider
    from tf.gen import tfplugin_pb2 as pb
    from tf.gen import tfplugin_pb2_grpc as rpc
    from tf.runner import run_provider

    with open(schema_file, "rb") as fh:
        schema = pb.GetProviderSchema.Response.FromString(fh.read())

    def dynamic(value: Any) -> Any:
        return pb.DynamicValue(msgpack=_pack(value))

    def decode(dv: Any) -> Any:
        if dv.msgpack:
            return _unpack(dv.msgpack)
        return json.loads(dv.json) if dv.json else None

    def error(summary: str) -> Any:
        return pb.Diagnostic(severity=pb.Diagnostic.ERROR, summary=summary)

    class StandIn(rpc.ProviderServicer):  # type: ignore[misc]
        def __init__(self, _app: Any) -> None:
            pass

        def GetMetadata(self, request: Any, context: Any) -> Any:
            return pb.GetMetadata.Response(
                server_capabilities=pb.ServerCapabilities(plan_destroy=True),
                resources=[
                    pb.GetMetadata.ResourceMetadata(type_name=t) for t in schema.resource_schemas
                ],
                data_sources=[
                    pb.GetMetadata.DataSourceMetadata(type_name=t)
                    for t in schema.data_source_schemas
                ],
            )

        def GetProviderSchema(self, request: Any, context: Any) -> Any:
            return schema

        def ValidateProviderConfig(self, request: Any, context: Any) -> Any:
            return pb.ValidateProviderConfig.Response()

        def ValidateResourceConfig(self, request: Any, context: Any) -> Any:
            return pb.ValidateResourceConfig.Response()

        def ValidateDataResourceConfig(self, request: Any, context: Any) -> Any:
            return pb.ValidateDataResourceConfig.Response()

        def ConfigureProvider(self, request: Any, context: Any) -> Any:
            return pb.ConfigureProvider.Response()

        def UpgradeResourceState(self, request: Any, context: Any) -> Any:
            raw = request.raw_state.json or b"null"
            return pb.UpgradeResourceState.Response(upgraded_state=dynamic(json.loads(raw)))

        def ReadResource(self, request: Any, context: Any) -> Any:
            return pb.ReadResource.Response(new_state=request.current_state)

        def PlanResourceChange(self, request: Any, context: Any) -> Any:
            proposed = decode(request.proposed_new_state)
            prior = decode(request.prior_state)
            if isinstance(proposed, dict) and prior is None:  # create
                block = schema.resource_schemas[request.type_name].block
                fill(block, proposed, decode(request.config), known=False)
            return pb.PlanResourceChange.Response(planned_state=dynamic(proposed))

        def ApplyResourceChange(self, request: Any, context: Any) -> Any:
            return pb.ApplyResourceChange.Response(
                diagnostics=[error("stand-in provider: plan only, it cannot apply")]
            )

        def ImportResourceState(self, request: Any, context: Any) -> Any:
            return pb.ImportResourceState.Response(
                diagnostics=[error("stand-in provider: it cannot import")]
            )

        def ReadDataSource(self, request: Any, context: Any) -> Any:
            config = decode(request.config)
            state = dict(config)
            fill(schema.data_source_schemas[request.type_name].block, state, config, known=True)
            return pb.ReadDataSource.Response(state=dynamic(state))

        def GetFunctions(self, request: Any, context: Any) -> Any:
            return pb.GetFunctions.Response()

        def StopProvider(self, request: Any, context: Any) -> Any:
            return pb.StopProvider.Response()

    del grpc
    tf.provider.ProviderServicer = StandIn  # the runner builds its servicer from this name
    run_provider(None, [sys.argv[0]])  # type: ignore[arg-type]


if __name__ == "__main__":
    serve(sys.argv[sys.argv.index("--schema") + 1])
