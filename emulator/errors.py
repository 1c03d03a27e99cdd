"""FC's API errors (fc-api.md §5). The one place an error becomes status + ErrorCode + ErrorMessage."""
from __future__ import annotations


class FCError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict:
        return {"ErrorCode": self.code, "ErrorMessage": self.message}


# 400
def invalid_argument(message: str) -> FCError:
    return FCError(400, "InvalidArgument", message)


def missing_header(name: str) -> FCError:
    return FCError(400, "MissingRequiredHeader", f"required HTTP header {name} was not specified")


def path_not_supported(method: str, path: str) -> FCError:
    return FCError(400, "PathNotSupported", f"'{method}' against '{path}' is not supported")


def entity_too_large(limit: int) -> FCError:
    return FCError(400, "EntityTooLarge", f"payload size exceeds maximum allowed size ({limit} bytes)")


# 403
def access_denied(message: str) -> FCError:
    return FCError(403, "AccessDenied", message)


def invalid_access_key(key_id: str) -> FCError:
    return FCError(403, "InvalidAccessKeyID", f"invalid access key ID '{key_id}'")


def signature_not_match() -> FCError:
    return FCError(403, "SignatureNotMatch",
                   "The request signature we calculated does not match the signature you provided. "
                   "Check your access key and signing method.")


# 404
def service_not_found(svc: str) -> FCError:
    return FCError(404, "ServiceNotFound", f"service '{svc}' does not exist")


def function_not_found(svc: str, fn: str) -> FCError:
    return FCError(404, "FunctionNotFound", f"function '{fn}' does not exist in service '{svc}'")


def trigger_not_found(fn: str, trigger: str) -> FCError:
    return FCError(404, "TriggerNotFound", f"trigger '{trigger}' does not exist in function '{fn}'")


def alias_not_found(svc: str, alias: str) -> FCError:
    return FCError(404, "AliasNotFound", f"alias '{alias}' of service '{svc}' does not exist")


def version_not_found(svc: str, version: str) -> FCError:
    return FCError(404, "VersionNotFound", f"version '{version}' of service '{svc}' does not exist")


def domain_not_found(domain: str) -> FCError:
    return FCError(404, "DomainNameNotFound", f"domain name '{domain}' does not exist")


def layer_version_not_found(layer: str, version) -> FCError:
    return FCError(404, "LayerVersionNotFound", f"layer '{layer}' version '{version}' does not exist")


def layer_not_found(layer: str) -> FCError:
    return FCError(404, "LayerNotFound", f"layer '{layer}' does not exist")


def on_demand_config_not_found(resource: str) -> FCError:
    return FCError(404, "OnDemandConfigNotFound", f"on-demand config for '{resource}' does not exist")


def provision_config_not_found(resource: str) -> FCError:
    return FCError(404, "ProvisionConfigNotFound", f"provision config for '{resource}' does not exist")


def async_config_not_found(svc: str, fn: str) -> FCError:
    return FCError(404, "AsyncConfigNotExists", f"AsyncConfig for {svc}:{fn} does not exist.")


def oss_object_not_found(bucket: str, obj: str) -> FCError:
    # FC answers a missing code object with InvalidArgument naming the OSS location.
    return invalid_argument(f"OSS object '{obj}' does not exist in bucket '{bucket}', "
                            f"or you do not have permission to access it")


# 409
def already_exists(code: str, message: str) -> FCError:
    return FCError(409, code, message)


def not_empty(code: str, message: str) -> FCError:
    return FCError(409, code, message)


# 412
def precondition_failed() -> FCError:
    return FCError(412, "PreconditionFailed", "the resource being modified has been changed")


# 500
def internal_error() -> FCError:
    return FCError(500, "InternalServerError", "an internal error has occurred. Please retry.")


# versions and aliases (fc-api.md §2.6)
def additional_version_contains_major(weights: str, version: str) -> FCError:
    """`weights` is the map as Go's %+v prints it, e.g. map[1:0.5]."""
    return FCError(400, "AdditionalVersionContainsMajorVersion",
                   f"additionalVersionWeight {weights} should not contain major version {version}")


# stateful async invocations (fc-api.md §2.10)
def stateful_invocation_not_found(invocation_id: str) -> FCError:
    return FCError(404, "StatefulAsyncInvocationNotFound",
                   f"stateful async invocation '{invocation_id}' does not exist")


def async_invocation_stopped(invocation_id: str) -> FCError:
    return FCError(412, "AsyncInvocationStopped", f"stateful async invocation '{invocation_id}' is already stopped")


# instances (fc-api.md §2.12)
def instance_not_found(svc: str, fn: str, instance_id: str) -> FCError:
    return FCError(404, "InstanceNotFound",
                   f"instance '{instance_id}' does not exist in function '{fn}' of service '{svc}'")


def stateful_invocation_exists(invocation_id: str) -> FCError:
    # FC does not document this one; 409 like every other "already exists"
    return FCError(409, "StatefulAsyncInvocationAlreadyExists",
                   f"stateful async invocation '{invocation_id}' already exists")
