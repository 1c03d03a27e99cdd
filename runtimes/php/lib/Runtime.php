<?php
/*
 * What the php7.2 agent does with one call (runtimes.md §13.2-§13.8): find `file.function`, include the file
 * once per instance, call the function with FC's arguments, and turn its result or its Throwable into FC's
 * answer. Warnings and notices of user code become ErrorException, as FC's agent makes them.
 */
namespace FcPhpRuntime;

class Runtime
{
    /** @var bool user code is running: its warnings and notices are fatal (set_error_handler below) */
    public static $inUser = false;

    /** @var Logger the agent's own reference to $GLOBALS['fcLogger'] (user code may reassign that global) */
    public static $log;

    private static $kinds = array(
        // path => [log marker word, handler header, kind]
        '/invoke' => array('Invoke', 'x-fc-function-handler', 'event'),
        '/initialize' => array('Initialize', 'x-fc-function-initializer', 'initializer'),
        '/pre-freeze' => array('PreFreeze', 'x-fc-instance-lifecycle-pre-freeze-handler', 'hook'),
        '/pre-stop' => array('PreStop', 'x-fc-instance-lifecycle-pre-stop-handler', 'hook'),
    );

    private $codeDir;
    private $agentDir;
    private $shown;
    private $loaded = array();

    /**
     * @param string $codeDir the code package's folder here (/code, or a host folder on the process backend)
     * @param array $shown folder here => how FC shows it (/code, /opt, /var/fc/runtime), for error texts
     */
    public function __construct($codeDir, array $shown)
    {
        $this->codeDir = rtrim($codeDir, '/');
        $this->agentDir = dirname(__DIR__) . '/';
        $this->shown = $shown;
    }

    public static function onError($errno, $errstr, $errfile = '', $errline = 0)
    {
        if (self::$inUser && $errno <= E_STRICT) {
            throw new \ErrorException($errstr, 0, $errno, $errfile, $errline);
        }
        return false;  // PHP's own handling (deprecations; the agent's own, @-silenced, socket calls)
    }

    /**
     * One request from the emulator: [status, body, extra header lines].
     */
    public function serve($path, array $h, $body)
    {
        $kind = isset(self::$kinds[$path]) ? self::$kinds[$path]
            : (isset($h['x-fc-control-path'], self::$kinds[$h['x-fc-control-path']]) ? self::$kinds[$h['x-fc-control-path']] : null);
        if ($kind === null) {
            return array(400, json_encode(array('errorMessage' => "unknown path '$path'")), array());
        }
        list($word, $header, $type) = $kind;
        $rid = isset($h['x-fc-request-id']) ? $h['x-fc-request-id'] : '';
        Logger::$requestId = $rid;
        self::say("FC $word Start RequestId: $rid");
        $handler = isset($h[$header]) ? $h[$header] : ($type === 'event' ? (string)getenv('FC_FUNCTION_HANDLER') : '');
        $context = Context::make($h, $rid);
        $extra = array();
        try {
            $fn = $this->resolve($handler);
            if ($type === 'event' && isset($h['x-fc-http-params']) && $h['x-fc-http-params'] !== '') {
                list($result, $meta) = HttpBridge::call($fn, $h['x-fc-http-params'], $body, $context);
                $extra[] = 'x-fc-http-params: ' . $meta;
            } else {
                self::$inUser = true;
                try {
                    $ret = $type === 'event' ? $fn($body, $context) : $fn($context);
                } finally {
                    self::$inUser = false;
                }
                $result = is_string($ret) ? $ret : (string)json_encode($ret, JSON_UNESCAPED_UNICODE);
            }
        } catch (LoadFailure $e) {
            return $this->fail($word, $rid, $e->getMessage(), 'text/plain');
        } catch (\Throwable $e) {
            return $this->fail($word, $rid, $this->errorJson($e), 'application/json');
        } finally {
            self::flushUserOutput();
        }
        self::say("FC $word End RequestId: $rid");
        return array(200, $type === 'event' ? $result : '', $extra);
    }

    private function fail($word, $rid, $error, $type)
    {
        self::flushUserOutput();
        self::$log->error($error);
        self::say("FC $word End RequestId: $rid, Error: Unhandled function error");
        return array(404, $error, array('Content-Type: ' . $type));
    }

    /** The user's function for `file.function` (the file included on first use); LoadFailure / Exception. */
    private function resolve($handler)
    {
        $dot = strrpos($handler, '.');
        if ($dot === false) {
            throw new LoadFailure("Invalid handler '$handler'");
        }
        $name = substr($handler, $dot + 1);
        $file = $this->codeDir . '/' . str_replace('.', '/', substr($handler, 0, $dot)) . '.php';
        if (!isset($this->loaded[$file])) {
            if (!is_file($file)) {
                throw new LoadFailure("Module '" . $this->show($file) . "' is missing.");
            }
            self::$inUser = true;
            try {
                self::includeModule($file);
            } finally {
                self::$inUser = false;
            }
            $this->loaded[$file] = true;
        }
        if ($name === '' || !function_exists($name)) {
            throw new MissingFunction("function $name not found", $file);
        }
        return $name;
    }

    /** include_once from an agent method, then the file's top-level variables into $GLOBALS (`global $x` works). */
    private static function includeModule($__fc_file)
    {
        include_once $__fc_file;
        unset($__fc_file);
        foreach (get_defined_vars() as $__fc_name => $__fc_value) {
            $GLOBALS[$__fc_name] = $__fc_value;
        }
    }

    /** {"errorMessage", "errorType", "stackTrace": {"file", "line", "traceString"}} (§13.8) */
    public function errorJson(\Throwable $e)
    {
        $missing = $e instanceof MissingFunction;  // FC's agent throws a plain Exception there: it names the module
        $err = array(
            'errorMessage' => $this->show($e->getMessage()),
            'errorType' => $missing ? 'Exception' : get_class($e),
            'stackTrace' => array('file' => $this->show($missing ? $e->module : $e->getFile()),
                                  'line' => $missing ? 0 : $e->getLine(),
                                  'traceString' => $missing ? '' : $this->traceString($e)),
        );
        return json_encode($err, JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE);
    }

    /** getTraceAsString() cut before the agent's frames (so "" when the handler itself threw). */
    private function traceString(\Throwable $e)
    {
        $lines = array();
        foreach ($e->getTrace() as $frame) {
            $file = isset($frame['file']) ? $frame['file'] : '';
            if ($file !== '' && strpos($file, $this->agentDir) === 0) {
                break;
            }
            if (isset($frame['class']) && strpos($frame['class'], __NAMESPACE__ . '\\') === 0) {
                continue;  // the error handler that turned a warning into an ErrorException
            }
            $call = (isset($frame['class']) ? $frame['class'] . $frame['type'] : '') . $frame['function'] . '()';
            $where = $file !== '' ? $this->show($file) . '(' . $frame['line'] . ')' : '[internal function]';
            $lines[] = '#' . count($lines) . ' ' . $where . ': ' . $call;
        }
        return implode("\n", $lines);
    }

    /** A text with the instance's paths as FC shows them, never a host folder. */
    public function show($text)
    {
        return strtr((string)$text, $this->shown);
    }

    public static function say($line)
    {
        fwrite(STDOUT, $line . "\n");
    }

    /** What user code left in output buffers reaches the log before the End marker. */
    private static function flushUserOutput()
    {
        while (ob_get_level() > 0) {
            if (!@ob_end_flush()) {
                break;
            }
        }
    }
}

/** The handler cannot be found: FC's agent answers a plain text, not error JSON (§13.2). */
class LoadFailure extends \Exception
{
}

/** `function x not found` in a module that loaded. */
class MissingFunction extends \Exception
{
    public $module;

    public function __construct($message, $module)
    {
        parent::__construct($message);
        $this->module = $module;
    }
}
