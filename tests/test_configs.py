"""On-demand, provision and async-invoke configs, and stateful async invocation listing
(fc-api.md §2.9, §2.10, §4, §5), through aliyun-fc2 and plain HTTP."""
from __future__ import annotations

import pytest
from fc2.fc_exceptions import FcError

from tests.helpers import HELLO_PY, fc_error, zip_b64

V1 = "/2016-08-15"


def setup_service(http, server, svc="s", fns=("f",), aliases=("test",)):
    """A service with functions, version 1 and aliases pointing at it."""
    assert http.post(server.url + V1 + "/services", json={"serviceName": svc}).status_code == 200
    for fn in fns:
        r = http.post(server.url + f"{V1}/services/{svc}/functions",
                      json={"functionName": fn, "runtime": "python3", "handler": "index.handler",
                            "code": {"zipFile": zip_b64(HELLO_PY)}})
        assert r.status_code == 200, r.text
    if aliases:
        r = http.post(server.url + f"{V1}/services/{svc}/versions", json={})
        assert r.status_code == 200, r.text
        for alias in aliases:
            r = http.post(server.url + f"{V1}/services/{svc}/aliases",
                          json={"aliasName": alias, "versionId": r.json().get("versionId", "1")})
            assert r.status_code == 200, r.text


# --- on-demand --------------------------------------------------------------------------------------

def test_on_demand_py_test_flow(fc, http, server):
    setup_service(http, server, fns=("f1", "f2"))
    empty = fc.list_on_demand_config().data
    assert empty.get("configs") is None and empty.get("nextToken") is None

    put = fc.put_on_demand_config("s", "test", "f1", 1)
    assert put.data == {"resource": "services/s.test/functions/f1", "maximumInstanceCount": 1}
    assert len(put.headers["Etag"]) == 32
    got = fc.get_on_demand_config("s", "test", "f1").data
    assert got == {"resource": "services/s.test/functions/f1", "maximumInstanceCount": 1}
    listed = fc.list_on_demand_config().data
    assert len(listed["configs"]) == 1 and listed.get("nextToken") is None

    fc.put_on_demand_config("s", "test", "f2", 2)
    assert fc.get_on_demand_config("s", "test", "f2").data["maximumInstanceCount"] == 2
    page1 = fc.list_on_demand_config(limit=1).data
    assert len(page1["configs"]) == 1 and page1["nextToken"] == "services/s.test/functions/f2"
    page2 = fc.list_on_demand_config(nextToken=page1["nextToken"]).data
    assert len(page2["configs"]) == 1 and page2.get("nextToken") is None

    fc.delete_on_demand_config("s", "test", "f2")
    listed = fc.list_on_demand_config(limit=2).data
    assert [c["resource"] for c in listed["configs"]] == ["services/s.test/functions/f1"]
    assert "nextToken" not in listed
    with pytest.raises(FcError) as e:
        fc.get_on_demand_config("s", "test", "f2")
    assert e.value.status_code == 404 and fc_error(e)["ErrorCode"] == "OnDemandConfigNotFound"
    assert fc_error(e)["ErrorMessage"] == "on-demand config for 'services/s.test/functions/f2' does not exist"
    with pytest.raises(FcError) as e:
        fc.delete_on_demand_config("s", "test", "f2")
    assert e.value.status_code == 404


def test_on_demand_list_prefix_and_start_key(fc, http, server):
    quals = [f"test-qualifier-{i}" for i in range(5)]
    setup_service(http, server, svc="S", aliases=quals)
    for q in quals:
        fc.put_on_demand_config("S", q, "f", 3)
    r = fc.list_on_demand_config(prefix="services/S.test-qualifier-1").data
    assert [c["resource"] for c in r["configs"]] == ["services/S.test-qualifier-1/functions/f"]
    r = fc.list_on_demand_config(startKey="services/S.test-qualifier-3").data
    assert [c["resource"] for c in r["configs"]] == [f"services/S.test-qualifier-{i}/functions/f" for i in (3, 4)]
    # the Go SDK always sends every parameter, empty = unset
    r = http.get(server.url + V1 + "/on-demand-configs", params={"prefix": "", "startKey": "", "nextToken": "",
                                                                  "limit": "100"})
    assert len(r.json()["configs"]) == 5 and "nextToken" not in r.json()
    r = http.get(server.url + V1 + "/on-demand-configs", params={"prefix": "services/S.x", "limit": "100"})
    assert r.json() == {}


def test_on_demand_qualifier_rules(fc, http, server):
    setup_service(http, server)
    r = fc.put_on_demand_config("s", "LATEST", "f", 4).data
    assert r["resource"] == "services/s.LATEST/functions/f"
    # the 2021 form: ?qualifier=
    r = http.get(server.url + "/2021-04-06/services/s/functions/f/on-demand-config", params={"qualifier": "LATEST"})
    assert r.status_code == 200 and r.json()["maximumInstanceCount"] == 4
    for q, status, code in [("1", 400, "InvalidArgument"), ("nope", 404, "AliasNotFound")]:
        with pytest.raises(FcError) as e:
            fc.put_on_demand_config("s", q, "f", 1)
        assert e.value.status_code == status and fc_error(e)["ErrorCode"] == code
    assert fc_error(pytest.raises(FcError, fc.put_on_demand_config, "s", "1", "f", 1))["ErrorMessage"] == \
        "qualifier '1' is invalid: this config can only be set on an alias or LATEST"
    with pytest.raises(FcError) as e:
        fc.put_on_demand_config("s", "test", "ghost", 1)
    assert fc_error(e)["ErrorCode"] == "FunctionNotFound"
    with pytest.raises(FcError) as e:
        fc.put_on_demand_config("ghost", "test", "f", 1)
    assert fc_error(e)["ErrorCode"] == "ServiceNotFound"
    assert [c["resource"] for c in fc.list_on_demand_config().data["configs"]] == ["services/s.LATEST/functions/f"]


def test_on_demand_body_and_if_match(fc, http, server):
    setup_service(http, server, aliases=())
    url = server.url + V1 + "/services/s.LATEST/functions/f/on-demand-config"
    for body, msg in [({}, "maximumInstanceCount is required"),
                      ({"maximumInstanceCount": "3"},
                       "maximumInstanceCount is set to an invalid value: expected an integer, actual: \"3\""),
                      ({"maximumInstanceCount": -1},
                       "maximumInstanceCount is set to an invalid value (allowed: 0 to 10000, actual: -1)")]:
        r = http.put(url, json=body)
        assert r.status_code == 400 and r.json()["ErrorMessage"] == msg
    assert http.get(url).status_code == 404
    etag = http.put(url, json={"MaximumInstanceCount": 5}).headers["Etag"]
    r = http.put(url, json={"maximumInstanceCount": 6}, headers={"If-Match": "0" * 32})
    assert r.status_code == 412 and r.json()["ErrorCode"] == "PreconditionFailed"
    assert http.get(url).json()["maximumInstanceCount"] == 5
    r = http.put(url, json={"maximumInstanceCount": 6}, headers={"If-Match": etag})
    assert r.status_code == 200 and r.headers["Etag"] != etag
    assert http.delete(url, headers={"If-Match": etag}).status_code == 412
    assert http.delete(url, headers={"If-Match": r.headers["Etag"]}).status_code == 204
    assert http.get(url).status_code == 404


# --- provision --------------------------------------------------------------------------------------

def test_provision_py_test_flow(fc, http, server, account):
    setup_service(http, server, fns=("f", "f2"))
    r = fc.put_provision_config("s", "test", "f", 10).data
    assert r["target"] == 10 and r["resource"] == f"{account}#s#test#f"
    r = fc.put_provision_config("s", "test", "f2", 5).data
    assert r["target"] == 5 and r["resource"] == f"{account}#s#test#f2"
    r = fc.get_provision_config("s", "test", "f").data
    assert r["target"] == 10 and r["current"] == 0 and r["currentError"] == ""
    assert r["resource"] == f"{account}#s#test#f"
    assert r["alwaysAllocateCPU"] is True and r["scheduledActions"] == [] and r["targetTrackingPolicies"] == []
    r = fc.list_provision_configs("s", "test").data
    assert len(r["provisionConfigs"]) == 2 and "nextToken" not in r
    r = fc.list_provision_configs("s", "test", limit=1).data
    assert len(r["provisionConfigs"]) == 1 and r["nextToken"] == f"{account}#s#test#f2"
    r2 = fc.list_provision_configs("s", "test", limit=1, nextToken=r["nextToken"]).data
    assert [c["target"] for c in r2["provisionConfigs"]] == [5] and "nextToken" not in r2
    # py-test's teardown: target 0 removes, also where nothing was set
    fc.put_provision_config("s", "test", "f", 0)
    fc.put_provision_config("s", "test", "f2", 0)
    assert fc.put_provision_config("s", "LATEST", "f", 0).data["target"] == 0
    assert fc.list_provision_configs("s", "test").data["provisionConfigs"] == []
    with pytest.raises(FcError) as e:
        fc.get_provision_config("s", "test", "f")
    assert e.value.status_code == 404 and fc_error(e)["ErrorCode"] == "ProvisionConfigNotFound"


def test_provision_list_filters(fc, http, server):
    setup_service(http, server, svc="a", aliases=("x", "y"))
    setup_service(http, server, svc="ab", aliases=("x",))
    fc.put_provision_config("a", "x", "f", 1)
    fc.put_provision_config("a", "y", "f", 2)
    fc.put_provision_config("ab", "x", "f", 3)
    every = http.get(server.url + V1 + "/provision-configs").json()["provisionConfigs"]
    assert [c["target"] for c in every] == [1, 2, 3]
    assert [c["target"] for c in fc.list_provision_configs("a", None).data["provisionConfigs"]] == [1, 2]
    assert [c["target"] for c in fc.list_provision_configs("a", "y").data["provisionConfigs"]] == [2]
    r = http.get(server.url + V1 + "/provision-configs", params={"qualifier": "x"})
    assert r.status_code == 400 and r.json()["ErrorMessage"] == "serviceName is required when qualifier is set"


def test_provision_validation(http, server):
    setup_service(http, server)
    url = server.url + V1 + "/services/s.test/functions/f/provision-config"
    action = {"name": "a1", "startTime": "2020-10-10T10:10:10Z", "endTime": "2030-10-10T10:10:10Z",
              "target": 5, "scheduleExpression": "cron(0 */30 * * * *)"}
    cases = [
        ({}, "target is required"),
        ({"target": 10001}, "target is set to an invalid value (allowed: 0 to 10000, actual: 10001)"),
        ({"target": -1}, "target is set to an invalid value (allowed: 0 to 10000, actual: -1)"),
        ({"target": 1, "scheduledActions": [action, {**action, "scheduleExpression": "at(2020-10-20T10:10:10Z)"}]},
         "Duplicate action name 'a1' in ScheduledActions is not allowed"),
        ({"target": 1, "scheduledActions": [{**action, "startTime": "2020-10-10 10:10:10"}]},
         "The StartTime is not in UTC time format (example: '2020-10-10T10:10:10Z', actual: '2020-10-10 10:10:10')"),
        ({"target": 1, "scheduledActions": [{**action, "scheduleExpression": "rate(5 minutes)"}]},
         "The ScheduleExpression should be atTime or cron expression (example: ['at(2020-10-10T10:10:10Z)', "
         "'cron(0 */30 * * * *)'], actual: 'rate(5 minutes)')"),
        ({"target": 1, "scheduledActions": [{**action, "scheduleExpression": "cron(0 */30 * * *)"}]},
         "The ScheduleExpression should be atTime or cron expression (example: ['at(2020-10-10T10:10:10Z)', "
         "'cron(0 */30 * * * *)'], actual: 'cron(0 */30 * * *)')"),
        ({"target": 1, "scheduledActions": [{**action, "name": f"a{i}"} for i in range(101)]},
         "ScheduledActions contains too many values (max: 100, actual: 101)"),
        ({"target": 1, "targetTrackingPolicies": [{"name": "p", "metricType": "QPS", "metricTarget": 0.5,
                                                   "minCapacity": 1, "maxCapacity": 2}]},
         "MetricType is set to an invalid value (allowed: ProvisionedConcurrencyUtilization | CPUUtilization | "
         "MemoryUtilization, actual: 'QPS')"),
        ({"target": 1, "targetTrackingPolicies": [{"name": "p", "metricType": "CPUUtilization", "metricTarget": 0.5,
                                                   "minCapacity": 5, "maxCapacity": 2}]},
         "MinCapacity must not be greater than MaxCapacity (min: 5, max: 2)"),
    ]
    for body, msg in cases:
        r = http.put(url, json=body)
        assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument", body
        assert r.json()["ErrorMessage"] == msg
    assert http.get(url).status_code == 404  # nothing stored
    policy = {"name": "p", "startTime": "2020-10-10T10:10:10Z", "endTime": "2030-10-10T10:10:10Z",
              "metricType": "ProvisionedConcurrencyUtilization", "metricTarget": 0.6, "minCapacity": 1,
              "maxCapacity": 10}
    r = http.put(url, json={"Target": 2, "ScheduledActions": [action], "TargetTrackingPolicies": [policy],
                            "alwaysAllocateCPU": False})
    assert r.status_code == 200, r.text
    got = http.get(url).json()
    assert got["scheduledActions"] == [action] and got["targetTrackingPolicies"] == [policy]
    assert got["alwaysAllocateCPU"] is False and got["target"] == 2
    # target 0 with scaling rules keeps the config
    assert http.put(url, json={"target": 0, "scheduledActions": [action]}).status_code == 200
    assert http.get(url).json()["target"] == 0


# --- async invoke config ----------------------------------------------------------------------------

def test_async_config_py_test_flow(fc, http, server, account):
    setup_service(http, server)
    destination = f"acs:fc:cn-hangzhou:{account}:services/s.test/functions/f_new"
    async_config = {"DestinationConfig": {"OnSuccess": {"Destination": destination},
                                          "OnFailure": {"Destination": destination}},
                    "MaxAsyncEventAgeInSeconds": 100, "MaxAsyncRetryAttempts": 1}
    config = fc.put_function_async_invoke_config("s", "test", "f", async_config).data
    assert config["service"] == "s" and config["function"] == "f" and config["qualifier"] == "test"
    assert "createdTime" in config and "lastModifiedTime" in config
    assert config["destinationConfig"] == {"onSuccess": {"destination": destination},
                                           "onFailure": {"destination": destination}}
    assert config["maxAsyncEventAgeInSeconds"] == 100 and config["maxAsyncRetryAttempts"] == 1
    assert config["statefulInvocation"] is False
    got = fc.get_function_async_invoke_config("s", "test", "f").data
    assert got == config
    listed = fc.list_function_async_invoke_configs("s", "f").data
    assert len(listed["configs"]) == 1 and listed["nextToken"] == ""
    fc.delete_function_async_invoke_config("s", "test", "f")
    with pytest.raises(FcError) as e:
        fc.get_function_async_invoke_config("s", "test", "f")
    assert e.value.status_code == 404 and fc_error(e)["ErrorCode"] == "AsyncConfigNotExists"
    assert fc_error(e)["ErrorMessage"] == "AsyncConfig for s:f does not exist."
    with pytest.raises(FcError) as e:
        fc.delete_function_async_invoke_config("s", "test", "f")
    assert e.value.status_code == 404


def test_async_config_unset_values_and_replace(fc, http, server):
    setup_service(http, server, aliases=())
    r = fc.put_function_async_invoke_config("s", "LATEST", "f", {"maxAsyncRetryAttempts": 2}).data
    assert r["maxAsyncEventAgeInSeconds"] is None and r["destinationConfig"] is None
    assert r["maxAsyncRetryAttempts"] == 2 and r["qualifier"] == "LATEST"
    # PUT replaces the whole config
    r = fc.put_function_async_invoke_config("s", "LATEST", "f", {"maxAsyncEventAgeInSeconds": 60}).data
    assert r["maxAsyncRetryAttempts"] is None and r["maxAsyncEventAgeInSeconds"] == 60
    # no qualifier = LATEST (2016 path without `.q`, 2021 without ?qualifier=)
    assert http.get(server.url + V1 + "/services/s/functions/f/async-invoke-config").json()["qualifier"] == "LATEST"
    assert http.get(server.url + "/2021-04-06/services/s/functions/f/async-invoke-config").status_code == 200


def test_async_config_validation(http, server, account):
    setup_service(http, server)
    url = server.url + V1 + "/services/s.test/functions/f/async-invoke-config"
    ok = [f"acs:mns:cn-hangzhou:{account}:/queues/q1/messages", f"acs:mns:cn-hangzhou:{account}:/topics/t1/messages",
          f"acs:fc:cn-hangzhou:{account}:services/s/functions/f", f"acs:eventbridge:cn-hangzhou:{account}:eventbus/default"]
    for arn in ok:
        r = http.put(url, json={"destinationConfig": {"onFailure": {"destination": arn}}})
        assert r.status_code == 200 and r.json()["destinationConfig"]["onFailure"]["destination"] == arn
    before = http.get(url).json()
    cases = [
        ({"maxAsyncRetryAttempts": 9}, "maxAsyncRetryAttempts is set to an invalid value (allowed: 0 to 8, actual: 9)"),
        ({"maxAsyncEventAgeInSeconds": 0},
         "maxAsyncEventAgeInSeconds is set to an invalid value (allowed: 1 to 86400, actual: 0)"),
        ({"maxAsyncRetryAttempts": "1"},
         "maxAsyncRetryAttempts is set to an invalid value: expected an integer, actual: \"1\""),
        ({"statefulInvocation": "true"},
         "statefulInvocation is set to an invalid value: expected a boolean, actual: \"true\""),
        ({"destinationConfig": {"onSuccess": {"destination": "acs:oss:cn-hangzhou:1:bucket"}}},
         "destination 'acs:oss:cn-hangzhou:1:bucket' is invalid: expected one of "
         "acs:fc:<region>:<uid>:services/<service>[.<qualifier>]/functions/<function>, "
         "acs:mns:<region>:<uid>:/queues/<queue>/messages, acs:mns:<region>:<uid>:/topics/<topic>/messages, "
         "acs:eventbridge:<region>:<uid>:eventbus/<bus>"),
    ]
    for body, msg in cases:
        r = http.put(url, json=body)
        assert r.status_code == 400 and r.json()["ErrorMessage"] == msg, body
    assert http.get(url).json() == before
    for path, code in [("/services/s.nope/functions/f/async-invoke-config", "AliasNotFound"),
                       ("/services/s.7/functions/f/async-invoke-config", "VersionNotFound"),
                       ("/services/s/functions/g/async-invoke-config", "FunctionNotFound"),
                       ("/services/t/functions/f/async-invoke-configs", "ServiceNotFound")]:
        r = http.put(server.url + V1 + path, json={}) if path.endswith("config") else http.get(server.url + V1 + path)
        assert r.status_code == 404 and r.json()["ErrorCode"] == code, path


def test_async_config_list_pagination_and_function_delete(fc, http, server):
    setup_service(http, server)
    r = fc.list_function_async_invoke_configs("s", "f").data
    assert r == {"nextToken": ""}
    fc.put_function_async_invoke_config("s", "LATEST", "f", {"maxAsyncRetryAttempts": 1})
    fc.put_function_async_invoke_config("s", "test", "f", {"maxAsyncRetryAttempts": 2})
    page1 = fc.list_function_async_invoke_configs("s", "f", limit=1).data
    assert [c["qualifier"] for c in page1["configs"]] == ["LATEST"] and page1["nextToken"] == "test"
    page2 = fc.list_function_async_invoke_configs("s", "f", limit=1, nextToken="test").data
    assert [c["qualifier"] for c in page2["configs"]] == ["test"] and page2["nextToken"] == ""
    # deleting the function drops its async configs
    fc.delete_function("s", "f")
    http.post(server.url + f"{V1}/services/s/functions", json={
        "functionName": "f", "runtime": "python3", "handler": "index.handler", "code": {"zipFile": zip_b64(HELLO_PY)}})
    assert fc.list_function_async_invoke_configs("s", "f").data == {"nextToken": ""}


# --- stateful async invocations ---------------------------------------------------------------------

def test_stateful_listing_shapes_and_filters(http, server):
    setup_service(http, server)
    base = server.url + V1 + "/services/s/functions/f/stateful-async-invocations"
    r = http.get(base)
    assert r.status_code == 200 and r.json() == {}  # `invocations` absent when none
    good = {"invocationIdPrefix": "job-", "status": "Running", "startedTimeBegin": "1600000000000",
            "startedTimeEnd": "1700000000000", "sortOrderByTime": "asc", "includePayload": "true", "limit": "10",
            "nextToken": ""}
    assert http.get(base, params=good).json() == {}
    assert http.get(server.url + V1 + "/services/s.test/functions/f/stateful-async-invocations").json() == {}
    assert http.get(server.url + "/2021-04-06/services/s/functions/f/stateful-async-invocations",
                    params={"qualifier": "test"}).status_code == 200
    cases = [
        ({"status": "Done"}, "status is set to an invalid value (allowed: Enqueued | Dequeued | Running | Succeeded | "
                             "Failed | Stopped | Stopping | Expired | Invalid, actual: 'Done')"),
        ({"startedTimeBegin": "yesterday"},
         "startedTimeBegin is set to an invalid value (expected: epoch milliseconds, actual: 'yesterday')"),
        ({"startedTimeEnd": "-5"}, "startedTimeEnd is set to an invalid value (expected: epoch milliseconds, "
                                   "actual: '-5')"),
        ({"startedTimeBegin": "200", "startedTimeEnd": "100"}, "startedTimeEnd (100) is earlier than "
                                                               "startedTimeBegin (200)"),
        ({"sortOrderByTime": "up"}, "sortOrderByTime is set to an invalid value (allowed: asc | desc, actual: 'up')"),
        ({"includePayload": "maybe"},
         "includePayload is set to an invalid value (allowed: true | false, actual: 'maybe')"),
        ({"limit": "0"}, "limit is set to an invalid value (allowed: 1 to 100, actual: 0)"),
    ]
    for params, msg in cases:
        r = http.get(base, params=params)
        assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument", params
        assert r.json()["ErrorMessage"] == msg
    for path, code in [("/services/s/functions/g/stateful-async-invocations", "FunctionNotFound"),
                       ("/services/s.nope/functions/f/stateful-async-invocations", "AliasNotFound"),
                       ("/services/x/functions/f/stateful-async-invocations", "ServiceNotFound")]:
        r = http.get(server.url + V1 + path)
        assert r.status_code == 404 and r.json()["ErrorCode"] == code


def test_stateful_get_and_stop_unknown(http, server):
    setup_service(http, server, aliases=())
    url = server.url + V1 + "/services/s/functions/f/stateful-async-invocations/job-1"
    r = http.get(url)
    assert r.status_code == 404 and r.json()["ErrorCode"] == "StatefulAsyncInvocationNotFound"
    assert r.json()["ErrorMessage"] == "stateful async invocation 'job-1' does not exist"
    r = http.put(url)
    assert r.status_code == 404 and r.json()["ErrorCode"] == "StatefulAsyncInvocationNotFound"
    r = http.get(server.url + V1 + "/services/s/functions/g/stateful-async-invocations/job-1")
    assert r.json()["ErrorCode"] == "FunctionNotFound"


def test_stateful_invocation_functions(fc, http, server):
    url = server.url + V1 + "/stateful-async-invocation-functions"
    assert http.get(url).json() == {"data": []}
    setup_service(http, server, fns=("f", "g"))
    fc.put_function_async_invoke_config("s", "LATEST", "f", {"statefulInvocation": True})
    fc.put_function_async_invoke_config("s", "test", "f", {"StatefulInvocation": True})
    fc.put_function_async_invoke_config("s", "LATEST", "g", {"statefulInvocation": False})
    r = http.get(url).json()
    assert r == {"data": [{"serviceName": "s", "functionName": "f", "qualifier": "LATEST"},
                          {"serviceName": "s", "functionName": "f", "qualifier": "test"}]}
    page1 = http.get(url, params={"limit": 1}).json()
    assert page1["data"] == [{"serviceName": "s", "functionName": "f", "qualifier": "LATEST"}]
    page2 = http.get(url, params={"limit": 1, "nextToken": page1["nextToken"]}).json()
    assert page2 == {"data": [{"serviceName": "s", "functionName": "f", "qualifier": "test"}]}
    fc.put_function_async_invoke_config("s", "test", "f", {"statefulInvocation": False})
    assert len(http.get(url).json()["data"]) == 1
