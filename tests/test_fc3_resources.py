"""FC 3.0 function configs and async tasks (fc3-api.md §4.7-4.11) through the official Python SDK: every response
deserialises through the SDK's models; every 4xx carries Code/Message/RequestId and changes nothing."""
from __future__ import annotations

import time

from alibabacloud_fc20230330 import models as m

from tests.test_fc3_functions import api_error, create, invoke, sdk

SLOW_PY = {"index.py": "import time\ndef handler(event, context):\n    time.sleep(float(event or b'0'))\n"
                       "    return b'done ' + event\n"}


def test_async_invoke_config_round_trip(server, account):
    c3 = sdk(server, account)
    create(c3, "fn", SLOW_PY)
    err = api_error(lambda: c3.get_async_invoke_config("fn", m.GetAsyncInvokeConfigRequest()))
    assert err["code"] == "AsyncConfigNotExists"
    dest = m.DestinationConfig(on_failure=m.Destination(
        destination=f"acs:fc:cn-hangzhou:{account}:functions/fn"))
    put = c3.put_async_invoke_config("fn", m.PutAsyncInvokeConfigRequest(body=m.PutAsyncInvokeConfigInput(
        async_task=True, max_async_event_age_in_seconds=300000, max_async_retry_attempts=1,
        destination_config=dest))).body
    assert isinstance(put, m.AsyncConfig)
    assert put.async_task is True and put.max_async_event_age_in_seconds == 300000
    assert put.max_async_retry_attempts == 1 and put.function_arn == f"acs:fc:cn-hangzhou:{account}:functions/fn"
    assert put.destination_config.on_failure.destination.endswith(":functions/fn")
    got = c3.get_async_invoke_config("fn", m.GetAsyncInvokeConfigRequest()).body
    assert got.to_map() == put.to_map()
    err = api_error(lambda: c3.put_async_invoke_config("fn", m.PutAsyncInvokeConfigRequest(
        body=m.PutAsyncInvokeConfigInput(max_async_retry_attempts=99))))
    assert err["code"] == "InvalidArgument"
    assert c3.get_async_invoke_config("fn", m.GetAsyncInvokeConfigRequest()).body.max_async_retry_attempts == 1
    listed = c3.list_async_invoke_configs(m.ListAsyncInvokeConfigsRequest(function_name="fn")).body
    assert [x.function_arn for x in listed.configs] == [put.function_arn] and listed.next_token is None
    assert c3.delete_async_invoke_config("fn", m.DeleteAsyncInvokeConfigRequest()).status_code == 204
    assert c3.list_async_invoke_configs(m.ListAsyncInvokeConfigsRequest()).body.configs == []


def test_async_tasks_list_get_stop(exec_server, account):
    c3 = sdk(exec_server, account)
    create(c3, "tasks", SLOW_PY, timeout=30)
    c3.put_async_invoke_config("tasks", m.PutAsyncInvokeConfigRequest(body=m.PutAsyncInvokeConfigInput(
        async_task=True)))
    r = invoke(c3, "tasks", b"0", x_fc_invocation_type="Async", x_fc_async_task_id="quick-1")
    assert r.status_code == 202 and r.headers["x-fc-async-task-id"] == "quick-1"
    deadline = time.time() + 30
    task = None
    while time.time() < deadline:
        task = c3.get_async_task("tasks", "quick-1", m.GetAsyncTaskRequest()).body
        if task.status == "Succeeded":
            break
        time.sleep(0.2)
    assert isinstance(task, m.AsyncTask) and task.status == "Succeeded", task
    assert task.task_id == "quick-1" and task.return_payload == "done 0" and task.task_payload == "0"
    assert task.function_arn.endswith(":functions/tasks") and isinstance(task.started_time, int)

    invoke(c3, "tasks", b"20", x_fc_invocation_type="Async", x_fc_async_task_id="slow-1")
    assert c3.stop_async_task("tasks", "slow-1", m.StopAsyncTaskRequest()).status_code == 204
    deadline = time.time() + 30
    while time.time() < deadline:
        status = c3.get_async_task("tasks", "slow-1", m.GetAsyncTaskRequest()).body.status
        if status == "Stopped":
            break
        time.sleep(0.2)
    assert status == "Stopped"

    listed = c3.list_async_tasks("tasks", m.ListAsyncTasksRequest(include_payload=True, sort_order_by_time="asc")).body
    assert [t.task_id for t in listed.tasks] == ["quick-1", "slow-1"]
    assert listed.tasks[0].task_payload == "0"
    prefixed = c3.list_async_tasks("tasks", m.ListAsyncTasksRequest(prefix="slow")).body
    assert [t.task_id for t in prefixed.tasks] == ["slow-1"]
    err = api_error(lambda: c3.get_async_task("tasks", "nope", m.GetAsyncTaskRequest()))
    assert err["code"] == "AsyncTaskNotFound" and err["status"] == 404


def test_concurrency_config(server, account):
    c3 = sdk(server, account)
    create(c3, "cc", SLOW_PY)
    err = api_error(lambda: c3.get_concurrency_config("cc"))  # none: 404, never 200 with null (§4.9)
    assert err["status"] == 404
    put = c3.put_concurrency_config("cc", m.PutConcurrencyConfigRequest(
        body=m.PutConcurrencyInput(reserved_concurrency=10))).body
    assert put.reserved_concurrency == 10 and put.function_arn.endswith(":functions/cc")
    err = api_error(lambda: c3.put_concurrency_config("cc", m.PutConcurrencyConfigRequest(
        body=m.PutConcurrencyInput(reserved_concurrency=-1))))
    assert err["code"] == "InvalidArgument"
    assert c3.get_concurrency_config("cc").body.reserved_concurrency == 10
    assert [x.reserved_concurrency for x in
            c3.list_concurrency_configs(m.ListConcurrencyConfigsRequest(function_name="cc")).body.configs] == [10]
    assert c3.delete_concurrency_config("cc").status_code == 204
    assert api_error(lambda: c3.get_concurrency_config("cc"))["status"] == 404


def test_provision_and_scaling_configs(exec_server, account):
    c3 = sdk(exec_server, account)
    create(c3, "pv", SLOW_PY)
    empty = c3.get_provision_config("pv", m.GetProvisionConfigRequest()).body
    assert empty.function_arn is None  # nothing configured (§4.10)
    put = c3.put_provision_config("pv", m.PutProvisionConfigRequest(body=m.PutProvisionConfigInput(
        target=1, default_target=1))).body
    assert put.target == 1 and put.default_target == 1 and put.function_arn.endswith(":functions/pv")
    deadline = time.time() + 60
    while time.time() < deadline:
        got = c3.get_provision_config("pv", m.GetProvisionConfigRequest()).body
        if got.current == 1:
            break
        time.sleep(0.3)
    assert got.current == 1  # the engine's pool keeps one instance warm
    listed = c3.list_provision_configs(m.ListProvisionConfigsRequest(function_name="pv")).body
    assert [x.function_arn for x in listed.provision_configs] == [put.function_arn]
    err = api_error(lambda: c3.put_provision_config("pv", m.PutProvisionConfigRequest(
        qualifier="1", body=m.PutProvisionConfigInput(target=1))))
    assert err["code"] == "InvalidArgument"
    assert c3.delete_provision_config("pv", m.DeleteProvisionConfigRequest()).status_code == 204
    assert c3.get_provision_config("pv", m.GetProvisionConfigRequest()).body.function_arn is None

    assert c3.get_scaling_config("pv", m.GetScalingConfigRequest()).body.function_arn is None
    sc = c3.put_scaling_config("pv", m.PutScalingConfigRequest(body=m.PutScalingConfigInput(min_instances=2))).body
    assert isinstance(sc, m.ScalingConfigStatus)
    assert sc.min_instances == 2 and sc.current_instances == sc.target_instances == 2
    err = api_error(lambda: c3.put_scaling_config("pv", m.PutScalingConfigRequest(
        body=m.PutScalingConfigInput(min_instances=-3))))
    assert err["code"] == "InvalidArgument"
    assert c3.get_scaling_config("pv", m.GetScalingConfigRequest()).body.min_instances == 2
    assert len(c3.list_scaling_configs(m.ListScalingConfigsRequest(function_name="pv")).body.scaling_configs) == 1
    assert c3.delete_scaling_config("pv", m.DeleteScalingConfigRequest()).status_code == 204
    assert c3.list_scaling_configs(m.ListScalingConfigsRequest()).body.scaling_configs == []


def test_serverless_devs_upload_path(server, account):
    """§9.2 steps 9-11 as the fc3 component does them: tempBucketToken (FC 2.0 API), an OSS PutObject to the
    emulator's address (IP literal: no bucket in host or path), then CreateFunction from that OSS object."""
    import requests
    from tests.helpers import make_zip
    r = requests.get(server.url + "/2016-08-15/tempBucketToken", headers={"x-fc-account-id": account})
    assert r.status_code == 200
    token = r.json()
    creds = token["credentials"]
    assert creds["AccessKeyId"] and creds["AccessKeySecret"] and creds["SecurityToken"] and creds["Expiration"]
    key = f"{account}/{token['objectName']}"
    data = make_zip({"index.py": "def handler(event, context):\n    return 'uploaded'\n"})
    put = requests.put(f"{server.url}/{key}", data=data, headers={
        "Authorization": f"OSS {creds['AccessKeyId']}:c2ln", "x-oss-security-token": creds["SecurityToken"],
        "Host": f"{token['ossBucket']}.oss-cn-hangzhou.aliyuncs.com", "Content-Type": "application/zip"})
    assert put.status_code == 200 and put.headers["etag"]
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)  # sends the path as written
    conn.request("PUT", f"/{account}/../../escape.zip", body=b"x", headers={"Authorization": "OSS a:b"})
    assert conn.getresponse().status == 400  # nothing is written outside the bucket folder
    conn.close()
    c3 = sdk(server, account)
    body = m.CreateFunctionInput(function_name="fromoss", runtime="python3.10", handler="index.handler",
                                 code=m.InputCodeLocation(oss_bucket_name=token["ossBucket"], oss_object_name=key))
    fn = c3.create_function(m.CreateFunctionRequest(body=body)).body
    assert fn.code_size == len(data)
    missing = m.CreateFunctionInput(function_name="nooss", runtime="python3.10", handler="index.handler",
                                    code=m.InputCodeLocation(oss_bucket_name=token["ossBucket"],
                                                             oss_object_name=f"{account}/missing.zip"))
    assert api_error(lambda: c3.create_function(m.CreateFunctionRequest(body=missing)))["code"] == "InvalidArgument"
