"""php7.2 (runtimes.md §13): functions written the way FC's PHP docs write them, on both backends (Docker: PHP 7.4
from Debian bullseye, the nearest offline; process: the host's `php`)."""
from __future__ import annotations

import json
import os

import pytest
import requests

from tests.helpers import invoke_with_tail, log_tail, runtime_server, AK_ID, AK_SECRET, Server, deploy, fc_client, new_account

V1 = "/2016-08-15"

# An event function: the event names what it does. Module-level code runs once per instance.
INDEX_PHP = r'''<?php
$counter = 0;
$loadedAt = 'module';

function initializer($context) {
    global $counter;
    $counter += 1;
    $GLOBALS['fcLogger']->info('initializing ' . $context['function']['name']);
}

function handler($event, $context) {
    global $counter, $loadedAt;
    $logger = $GLOBALS['fcLogger'];
    switch ($event) {
        case 'count':
            $counter += 2;
            return $counter;
        case 'log':
            $logger->debug('at debug');
            $logger->info('at info');
            $logger->warning('at warning');
            $logger->error('at error');
            echo "raw echo\n";
            $logger->setLevel('DEBUG');
            $logger->debug('debug after setLevel');
            $logger->setLevel(200);
            return 'logged';
        case 'context':
            return $context;
        case 'env':
            return array('server_path' => getenv('FC_SERVER_PATH'), 'env_server_path' => $_ENV['FC_SERVER_PATH'],
                         'env_has_port' => isset($_ENV['FC_SERVER_PORT']), 'getenv_port' => getenv('FC_SERVER_PORT') !== false,
                         'env_name' => $_ENV['FC_FUNCTION_NAME'], 'loaded' => $loadedAt,
                         'memory_limit' => ini_get('memory_limit'), 'cwd' => getcwd(), 'major' => PHP_MAJOR_VERSION);
        case 'types':
            return array('n' => null, 'i' => 3, 'b' => true, 's' => 'héllo', 'l' => array(1, 2));
        case 'null':
            return null;
        case 'fail':
            throw new Exception('oops');
        case 'nested':
            return deeper();
        case 'undefined-index':
            $a = array();
            return $a['missing'];
        case 'silenced':
            return @file_get_contents('/nonexistent/file');
        case 'deprecated':
            trigger_error('old style', E_USER_DEPRECATED);
            return 'still ran';
        case 'exit':
            echo "leaving\n";
            exit(0);
    }
    return strrev($event);
}

function deeper() {
    throw new InvalidArgumentException('from deeper');
}
'''

# An HTTP function as FC's docs write one: PSR-7 request in, RingCentral\Psr7\Response out.
WEB_PHP = r'''<?php
use RingCentral\Psr7\Response;

function handler($request, $context): Response {
    $body       = $request->getBody()->getContents();
    $queries    = $request->getQueryParams();
    $method     = $request->getMethod();
    $headers    = $request->getHeaders();
    $path       = $request->getAttribute('path');
    $requestURI = $request->getAttribute('requestURI');
    $clientIP   = $request->getAttribute('clientIP');
    if ($path === '/fail') {
        throw new RuntimeException('web oops');
    }
    if ($path === '/bare') {
        return new Response(204, array('X-Powered-By' => ''));
    }
    $status = isset($queries['status']) ? (int)$queries['status'] : 200;
    $server = $request->getServerParams();
    return new Response(
        $status,
        array(
            'Content-Type' => 'application/octet-stream',
            'X-Method' => $method,
            'X-Queries' => json_encode($queries),
            'X-Attrs' => implode('|', array($path, $requestURI, $clientIP)),
            'X-Custom' => $request->getHeaderLine('x-custom') . '|' . $request->getHeaderLine('content-type'),
            'X-Server' => $server['REQUEST_METHOD'] . '|' . $server['QUERY_STRING'] . '|' . $server['REQUEST_URI'],
            'X-Request-Id' => $context['requestId'],
            'X-Has-Header-Map' => isset($headers['X-Custom']) ? 'yes' : 'no',
            'X-Multi' => array('one', 'two'),
        ),
        strrev($body)
    );
}
'''


@pytest.fixture(scope="module")
def pserver(backend, tmp_path_factory):
    srv = runtime_server(backend, tmp_path_factory, "php")
    yield srv
    srv.stop()


@pytest.fixture
def pfc(pserver, account):
    return fc_client(pserver, account)


invoke = invoke_with_tail


def line_of(code: str, text: str) -> int:
    """The line of `code` (1-based) holding `text`."""
    return next(i for i, line in enumerate(code.splitlines(), 1) if text in line)


def test_event_handler_initializer_and_globals(pfc, pserver, account, tmp_path):
    deploy(pfc, tmp_path, {"index.php": INDEX_PHP}, runtime="php7.2", initializer="index.initializer")
    first = invoke(pserver, account, b"count")
    assert first.status_code == 200 and first.content == b"3", first.text  # initializer 1 + handler 2, one global
    second = invoke(pserver, account, b"count")
    assert second.content == b"5" and second.headers["X-Fc-Instance-Id"] == first.headers["X-Fc-Instance-Id"]
    tail = log_tail(first)
    assert "FunctionCompute php7.2 runtime inited." in tail
    assert "FC Initialize Start RequestId: " in tail and "] initializing fn" in tail
    assert f"FC Invoke End RequestId: {first.headers['X-Fc-Request-Id']}" in tail
    assert "runtime inited" not in log_tail(second)  # once per instance
    r = invoke(pserver, account, b"abc\x00\xff")
    assert r.content == b"\xff\x00cba"  # the event is the raw payload string, binary-safe both ways


def test_return_values_are_json_unless_strings(pfc, pserver, account, tmp_path):
    deploy(pfc, tmp_path, {"index.php": INDEX_PHP}, runtime="php7.2")
    assert invoke(pserver, account, b"types").content.decode() == \
        '{"n":null,"i":3,"b":true,"s":"héllo","l":[1,2]}'  # json_encode with JSON_UNESCAPED_UNICODE (§13.3)
    assert invoke(pserver, account, b"null").content == b"null"


def test_logger_lines_and_echo_in_the_log_tail(pfc, pserver, account, tmp_path):
    deploy(pfc, tmp_path, {"index.php": INDEX_PHP}, runtime="php7.2")
    r = invoke(pserver, account, b"log")
    assert r.content == b"logged"
    rid = r.headers["X-Fc-Request-Id"]
    lines = log_tail(r).splitlines()
    for level, text in (("INFO", "at info"), ("WARNING", "at warning"), ("ERROR", "at error"),
                        ("DEBUG", "debug after setLevel")):
        line = next(line for line in lines if line.endswith(text))
        stamp, who, tag, *_ = line.split(" ")
        assert len(stamp) == 20 and stamp.endswith("Z") and stamp[10] == "T", line  # Y-m-d\TH:i:s\Z
        assert who == rid and tag == f"[{level}]", line
    assert not any(line.endswith("at debug") for line in lines)  # default level INFO (§13.6)
    assert "raw echo" in lines  # echo goes to the log, not into the result


def test_context_and_environment(pfc, pserver, account, tmp_path):
    deploy(pfc, tmp_path, {"index.php": INDEX_PHP}, runtime="php7.2", memorySize=256, timeout=7,
           initializer="index.initializer", initializationTimeout=5)
    r = invoke(pserver, account, b"context")
    ctx = r.json()
    assert ctx["requestId"] == r.headers["X-Fc-Request-Id"]
    assert ctx["function"] == {"name": "fn", "handler": "index.handler", "memory": 256, "timeout": 7,
                               "initializer": "index.initializer", "initializationTimeout": 5}
    assert ctx["service"]["name"] == "svc" and ctx["service"]["qualifier"] == "LATEST"
    assert set(ctx["service"]) == {"name", "logProject", "logStore", "qualifier", "versionId"}
    assert ctx["accountId"] == account and ctx["region"] and ctx["retryCount"] == 0
    assert set(ctx["credentials"]) == {"accessKeyId", "accessKeySecret", "securityToken"}
    assert ctx["credentials"]["accessKeyId"]
    assert set(ctx["tracing"]) == {"openTracingSpanContext", "jaegerEndpoint", "openTracingSpanBaggages"}
    env = invoke(pserver, account, b"env").json()
    assert env["server_path"] == env["env_server_path"] == "/var/fc/runtime/php7.2"  # apps detect FC by it
    assert env["env_has_port"] is False and env["getenv_port"] is True  # $_ENV filtered, getenv() not (§13.1)
    assert env["env_name"] == "fn" and env["loaded"] == "module" and env["memory_limit"] == "3072M"
    assert env["major"] >= 7


def test_exception_is_an_unhandled_error_with_a_stack_trace_object(pfc, pserver, account, tmp_path):
    deploy(pfc, tmp_path, {"index.php": INDEX_PHP}, runtime="php7.2")
    r = invoke(pserver, account, b"fail")
    assert r.status_code == 200 and r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert r.json() == {"errorMessage": "oops", "errorType": "Exception",
                        "stackTrace": {"file": "/code/index.php", "line": line_of(INDEX_PHP, "oops"),
                                       "traceString": ""}}
    tail = log_tail(r)
    assert "Error: Unhandled function error" in tail and '[ERROR] {"errorMessage":"oops"' in tail
    nested = invoke(pserver, account, b"nested").json()
    assert nested["errorType"] == "InvalidArgumentException" and nested["stackTrace"]["line"] == line_of(INDEX_PHP, "from deeper")
    assert nested["stackTrace"]["traceString"] == f"#0 /code/index.php({line_of(INDEX_PHP, 'return deeper')}): deeper()"


def test_warnings_and_notices_fail_the_invocation(pfc, pserver, account, tmp_path):
    deploy(pfc, tmp_path, {"index.php": INDEX_PHP}, runtime="php7.2")
    r = invoke(pserver, account, b"undefined-index")
    assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    err = r.json()
    assert err["errorType"] == "ErrorException" and "missing" in err["errorMessage"], err  # PHP 7: Undefined index
    assert err["stackTrace"] == {"file": "/code/index.php", "line": line_of(INDEX_PHP, "$a['missing']"),
                                   "traceString": ""}
    silenced = invoke(pserver, account, b"silenced").json()  # @ does not help (§13.8)
    assert silenced["errorType"] == "ErrorException" and "file_get_contents" in silenced["errorMessage"]
    assert invoke(pserver, account, b"deprecated").content == b"still ran"  # E_USER_DEPRECATED is left to PHP
    assert invoke(pserver, account, b"again").content == b"niaga"  # the instance lives on


def test_missing_file_and_function(pfc, pserver, account, tmp_path):
    deploy(pfc, tmp_path, {"index.php": INDEX_PHP}, name="nofile", runtime="php7.2", handler="main.handler")
    r = invoke(pserver, account, b"x", fn="nofile")
    assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert r.text == "Module '/code/main.php' is missing."  # a plain string (§13.2)
    deploy(pfc, tmp_path, {"lib/util.php": INDEX_PHP}, name="nofn", runtime="php7.2", handler="lib.util.nope")
    r = invoke(pserver, account, b"x", fn="nofn")
    assert r.json()["errorType"] == "Exception" and r.json()["errorMessage"] == "function nope not found", r.text
    assert r.json()["stackTrace"]["file"] == "/code/lib/util.php"
    deploy(pfc, tmp_path, {"index.php": "<?php\nfunction handler($e, $c) {\n  return 1 +;\n}\n"}, name="syntax",
           runtime="php7.2")
    err = invoke(pserver, account, b"x", fn="syntax").json()
    assert err["errorType"] == "ParseError" and err["stackTrace"]["file"] == "/code/index.php", err


def test_exit_ends_the_instance(pfc, pserver, account, tmp_path):
    deploy(pfc, tmp_path, {"index.php": INDEX_PHP}, runtime="php7.2")
    first = invoke(pserver, account, b"abc")
    r = invoke(pserver, account, b"exit")
    assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert r.json()["errorMessage"].startswith("Process exited unexpectedly"), r.text
    again = invoke(pserver, account, b"abc")
    assert again.content == b"cba" and again.headers["X-Fc-Instance-Id"] != first.headers["X-Fc-Instance-Id"]


def test_http_trigger_request_and_response(pfc, pserver, account, tmp_path):
    deploy(pfc, tmp_path, {"index.php": WEB_PHP}, runtime="php7.2")
    pfc.create_trigger("svc", "fn", "web", "http", {"authType": "anonymous", "methods": ["GET", "POST", "PUT"]}, "", "")
    blob = bytes(range(256)) * 4 + b"\r\n\x00end"
    url = f"{pserver.url}{V1}/proxy/svc/fn/a/b%20c?status=201&a=1&a=2&e=%C3%A9"
    r = requests.put(url, data=blob, headers={"X-Fc-Account-Id": account, "X-Custom": "mine",
                                              "Content-Type": "image/png"}, timeout=60, stream=True)
    body = r.raw.read()
    assert r.status_code == 201, body[:500]
    assert body == blob[::-1]  # binary-safe both ways
    h = r.headers
    assert h["X-Method"] == "PUT" and h["X-Powered-By"] == "fc/php-runtime"
    assert json.loads(h["X-Queries"]) == {"status": "201", "a": ["1", "2"], "e": "é"}  # one value: a string
    path, uri, ip = h["X-Attrs"].split("|")
    assert (path, uri, ip) == ("/a/b c", f"{V1}/proxy/svc/fn/a/b%20c?status=201&a=1&a=2&e=%C3%A9", "127.0.0.1")
    assert h["X-Custom"] == "mine|image/png" and h["X-Has-Header-Map"] == "yes"
    assert h["X-Server"] == f"PUT|status=201&a=1&a=2&e=%C3%A9|{V1}/proxy/svc/fn/a/b%20c?status=201&a=1&a=2&e=%C3%A9"
    assert h["X-Request-Id"] == h["X-Fc-Request-Id"]
    assert r.raw.headers.getlist("X-Multi") == ["one", "two"]
    big = os.urandom(5 << 20)
    r = requests.post(f"{pserver.url}{V1}/proxy/svc/fn/big", data=big, headers={"X-Fc-Account-Id": account},
                      timeout=60)
    assert r.status_code == 200 and r.content == big[::-1], r.text[:500]
    assert r.headers["X-Custom"] == "|application/octet-stream"  # no Content-Type sent: FC's agent adds one
    r = requests.get(f"{pserver.url}{V1}/proxy/svc/fn/bare", headers={"X-Fc-Account-Id": account}, timeout=60)
    assert r.status_code == 204 and r.content == b"" and "X-Powered-By" not in r.headers  # '' removes it
    r = requests.get(f"{pserver.url}{V1}/proxy/svc/fn/fail", headers={"X-Fc-Account-Id": account}, timeout=60)
    assert r.status_code == 502 and r.json()["errorType"] == "RuntimeException", r.text
    assert r.json()["errorMessage"] == "web oops" and r.json()["stackTrace"]["file"] == "/code/index.php"


def test_no_php_on_the_host_is_a_412_naming_what_to_install(tmp_path):
    """The process backend runs the host's php: none on PATH, the instance does not start."""
    srv = Server(tmp_path / "fc", "--executor", "process", "--access-key", f"{AK_ID}:{AK_SECRET}",
                 env={"PATH": str(tmp_path)}).start()  # a PATH without php
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.php": INDEX_PHP}, runtime="php7.2")
        from fc2.fc_exceptions import FcError
        with pytest.raises(FcError) as exc:
            client.invoke_function("svc", "fn", payload=b"x")
        assert exc.value.status_code == 412 and exc.value.err_code == "FunctionNotStarted"
        assert "apt-get install php-cli" in exc.value.message and "--interpreter php7.2=PATH" in exc.value.message
        assert str(tmp_path) not in exc.value.message
    finally:
        srv.stop()


# psr/http-message 2.0 (typed) in the code package's own vendor/, loaded by a Composer-style autoloader that the
# function requires itself: that copy wins over the agent's, and the agent's request and Response fit it.
PSR7_V2 = {
    "MessageInterface": ("", """
    public function getProtocolVersion(): string;
    public function withProtocolVersion(string $version): MessageInterface;
    public function getHeaders(): array;
    public function hasHeader(string $name): bool;
    public function getHeader(string $name): array;
    public function getHeaderLine(string $name): string;
    public function withHeader(string $name, $value): MessageInterface;
    public function withAddedHeader(string $name, $value): MessageInterface;
    public function withoutHeader(string $name): MessageInterface;
    public function getBody(): StreamInterface;
    public function withBody(StreamInterface $body): MessageInterface;"""),
    "RequestInterface": ("MessageInterface", """
    public function getRequestTarget(): string;
    public function withRequestTarget(string $requestTarget): RequestInterface;
    public function getMethod(): string;
    public function withMethod(string $method): RequestInterface;
    public function getUri(): UriInterface;
    public function withUri(UriInterface $uri, bool $preserveHost = false): RequestInterface;"""),
    "ServerRequestInterface": ("RequestInterface", """
    public function getServerParams(): array;
    public function getCookieParams(): array;
    public function withCookieParams(array $cookies): ServerRequestInterface;
    public function getQueryParams(): array;
    public function withQueryParams(array $query): ServerRequestInterface;
    public function getUploadedFiles(): array;
    public function withUploadedFiles(array $uploadedFiles): ServerRequestInterface;
    public function getParsedBody();
    public function withParsedBody($data): ServerRequestInterface;
    public function getAttributes(): array;
    public function getAttribute(string $name, $default = null);
    public function withAttribute(string $name, $value): ServerRequestInterface;
    public function withoutAttribute(string $name): ServerRequestInterface;"""),
    "ResponseInterface": ("MessageInterface", """
    public function getStatusCode(): int;
    public function withStatus(int $code, string $reasonPhrase = ''): ResponseInterface;
    public function getReasonPhrase(): string;"""),
    "StreamInterface": ("", """
    public function __toString(): string;
    public function close(): void;
    public function detach();
    public function getSize(): ?int;
    public function tell(): int;
    public function eof(): bool;
    public function isSeekable(): bool;
    public function seek(int $offset, int $whence = SEEK_SET): void;
    public function rewind(): void;
    public function isWritable(): bool;
    public function write(string $string): int;
    public function isReadable(): bool;
    public function read(int $length): string;
    public function getContents(): string;
    public function getMetadata(?string $key = null);"""),
    "UriInterface": ("", """
    public function getScheme(): string;
    public function getAuthority(): string;
    public function getUserInfo(): string;
    public function getHost(): string;
    public function getPort(): ?int;
    public function getPath(): string;
    public function getQuery(): string;
    public function getFragment(): string;
    public function withScheme(string $scheme): UriInterface;
    public function withUserInfo(string $user, ?string $password = null): UriInterface;
    public function withHost(string $host): UriInterface;
    public function withPort(?int $port): UriInterface;
    public function withPath(string $path): UriInterface;
    public function withQuery(string $query): UriInterface;
    public function withFragment(string $fragment): UriInterface;
    public function __toString(): string;"""),
}

VENDOR_AUTOLOAD = r'''<?php
spl_autoload_register(function ($class) {
    $file = __DIR__ . '/psr/http-message/src/' . substr(strrchr('\\' . $class, '\\'), 1) . '.php';
    if (strpos($class, 'Psr\\Http\\Message\\') === 0 && is_file($file)) {
        require $file;
    }
}, true, true);
'''

COMPOSER_WEB_PHP = r'''<?php
require_once __DIR__ . '/vendor/autoload.php';

use Psr\Http\Message\ServerRequestInterface;
use RingCentral\Psr7\Response;

function handler(ServerRequestInterface $request, $context): Response {
    $where = (new ReflectionClass(ServerRequestInterface::class))->getFileName();
    $response = new Response(200, array('X-Psr-From' => basename(dirname(dirname($where)))), 'v2 ok');
    return $response->withAddedHeader('X-Uri-Path', $request->getUri()->getPath())
                    ->withHeader('X-Target', $request->getRequestTarget());
}
'''


def test_a_code_packages_own_psr7_copy_wins(pfc, pserver, account, tmp_path):
    files = {"index.php": COMPOSER_WEB_PHP, "vendor/autoload.php": VENDOR_AUTOLOAD}
    for name, (parent, body) in PSR7_V2.items():
        files[f"vendor/psr/http-message/src/{name}.php"] = (
            f"<?php\nnamespace Psr\\Http\\Message;\n\ninterface {name}{' extends ' + parent if parent else ''}\n"
            f"{{{body}\n}}\n")
    deploy(pfc, tmp_path, files, runtime="php7.2")
    pfc.create_trigger("svc", "fn", "web", "http", {"authType": "anonymous", "methods": ["GET"]}, "", "")
    r = requests.get(f"{pserver.url}{V1}/proxy/svc/fn/p?x=1", headers={"X-Fc-Account-Id": account}, timeout=60)
    assert r.status_code == 200 and r.content == b"v2 ok", r.text
    assert r.headers["X-Psr-From"] == "http-message"  # the package's copy, not the agent's
    # FC's agent builds the URI without a scheme: PSR-7's parser takes all of it for the path (§13.5)
    assert r.headers["X-Uri-Path"] == f"{account}.cn-hangzhou.fc.aliyuncs.com{V1}/proxy/svc/fn/p"
    assert r.headers["X-Target"] == f"{account}.cn-hangzhou.fc.aliyuncs.com{V1}/proxy/svc/fn/p?x=1"


def test_initializer_error_fails_the_call_and_is_retried(pfc, pserver, account, tmp_path):
    code = ("<?php\nfunction initializer($context) {\n    throw new RuntimeException('init failed');\n}\n"
            "function handler($event, $context) {\n    return 'never';\n}\n")
    deploy(pfc, tmp_path, {"index.php": code}, runtime="php7.2", initializer="index.initializer")
    for _ in range(2):  # the instance is destroyed and the next call runs the initializer again
        r = invoke(pserver, account, b"x")
        assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError", r.text
        assert r.json()["errorType"] == "RuntimeException" and r.json()["errorMessage"] == "init failed", r.text
