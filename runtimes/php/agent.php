<?php
/*
 * fc-emulator php7.2 runtime agent (runtimes.md §13, docs/runtime-protocol.md): one HTTP/1.1 server per
 * instance, keep-alive, one call at a time, speaking FC's built-in-runtime protocol: POST /invoke,
 * /initialize, /pre-freeze, /pre-stop. PHP standard library only; runs on PHP 7.2 to 8.x.
 */
namespace FcPhpRuntime;

require __DIR__ . '/lib/Logger.php';
require __DIR__ . '/lib/Context.php';
require __DIR__ . '/lib/Runtime.php';
require __DIR__ . '/lib/HttpBridge.php';

class Agent
{
    /** the working directory as FC shows it (DOCUMENT_ROOT of HTTP calls) */
    public static $shownCwd = '/code';

    // FC's agent keeps only these FC_* keys in $_ENV (getenv() still sees them all) (§13.1)
    private static $safeEnv = array('FC_FUNC_CODE_PATH', 'FC_FUNCTION_MEMORY_SIZE', 'FC_RUNTIME_VERSION', 'FC_ACCOUNT_ID',
        'FC_FUNCTION_HANDLER', 'FC_FUNCTION_NAME', 'FC_SERVICE_NAME', 'FC_VER_ID', 'FC_QUALIFIER', 'FC_REGION',
        'FC_INSTANCE_ID');
    const SERVER_PATH = '/var/fc/runtime/php7.2';

    /** @var Runtime|null null while a standby instance waits for its function */
    private $runtime;
    private $server;
    private $clients = array();

    public static function main()
    {
        $host = getenv('FC_SERVER_HOST') ?: '0.0.0.0';
        $port = (int)(getenv('FC_SERVER_PORT') ?: 9000);
        self::prepare();
        $agent = new Agent();
        if ((string)getenv('FC_EMULATOR_STANDBY') === '') {
            $agent->configure();
        }  // else a standby instance: its function comes with POST /assign (docs/runtime-protocol.md)
        $agent->listen($host, $port);
        Runtime::say('FunctionCompute ' . (getenv('FC_RUNTIME') ?: 'php7.2') . ' runtime inited.');
        $agent->loop();
    }

    /** What does not depend on the function: error handler, extensions, the agent's own autoloaders. */
    private static function prepare()
    {
        set_error_handler(array(Runtime::class, 'onError'));
        foreach (array('json', 'ctype', 'bcmath', 'bz2', 'mbstring') as $ext) {  // as FC's agent dl()s them
            if (!extension_loaded($ext) && function_exists('dl') && is_file(ini_get('extension_dir') . "/$ext.so")) {
                @dl("$ext.so");
            }
        }
        // PSR-7 interfaces and RingCentral\Psr7\Response: our copies load only when nothing else declares them
        // (a Composer autoloader, registered later with prepend, is asked first)
        spl_autoload_register(function ($class) {
            foreach (array('Psr\\Http\\Message\\', 'RingCentral\\Psr7\\', 'FcPhpRuntime\\Psr7\\') as $prefix) {
                if (strpos($class, $prefix) === 0) {
                    $file = __DIR__ . '/psr7/' . str_replace('\\', '/', $class) . '.php';
                    if (is_file($file)) {
                        require $file;
                    }
                    return;
                }
            }
        });
        foreach (array(__DIR__ . '/builtIn/vendor/autoload.php', self::SERVER_PATH . '/builtIn/vendor/autoload.php') as $f) {
            if (is_file($f)) {  // FC's built-in Composer packages, where an image carries them
                require_once $f;
                break;
            }
        }
    }

    /**
     * What depends on the function, read from the environment as it is now (at start, or once a standby has
     * received its function): memory limit, $_ENV, include path, working folder, logger, shown paths.
     */
    private function configure()
    {
        $codeDir = rtrim(getenv('FC_FUNC_CODE_PATH') ?: '/code', '/') ?: '/code';
        $optDir = rtrim(getenv('FC_EMULATOR_OPT_DIR') ?: '/opt', '/') ?: '/opt';
        $shown = array();
        foreach (array($codeDir => '/code', $optDir => '/opt', dirname(__DIR__) => '/var/fc/runtime') as $here => $fc) {
            if ($here !== $fc) {
                $shown[$here] = $fc;
            }
        }
        $mb = (int)getenv('FC_FUNCTION_MEMORY_SIZE');
        if ($mb > 3072) {  // php.ini says 3072M; a bigger function gets its memory size (§13.1)
            ini_set('memory_limit', $mb . 'M');
        }
        foreach (array_keys($_ENV) as $key) {
            if (strpos($key, 'FC_') === 0 && !in_array($key, self::$safeEnv, true)) {
                unset($_ENV[$key]);
            }
        }
        putenv('FC_SERVER_PATH=' . self::SERVER_PATH);
        $_ENV['FC_SERVER_PATH'] = $_SERVER['FC_SERVER_PATH'] = self::SERVER_PATH;
        set_include_path(get_include_path() . PATH_SEPARATOR . $optDir . '/php');  // layers' PHP libraries
        @chdir($codeDir);
        $GLOBALS['fcLogger'] = Runtime::$log = new Logger('fc');
        self::$shownCwd = strtr((string)getcwd(), $shown);
        $this->runtime = new Runtime($codeDir, $shown);
    }

    /**
     * POST /assign to a standby instance: {"env": {...}}, the whole environment a fresh start of its function
     * would have had. The process's own variables stay, FC_EMULATOR_STANDBY goes; getenv(), $_ENV and $_SERVER
     * then show what a fresh start shows, and the function's set-up runs as it does at start. Afterwards
     * /assign is an unknown path.
     */
    private function assign($body)
    {
        $data = json_decode($body, true);
        if (!is_array($data) || !isset($data['env']) || !is_array($data['env'])) {
            return array(400, json_encode(array('errorMessage' => 'POST /assign needs {"env": {...}}')), array());
        }
        putenv('FC_EMULATOR_STANDBY');
        unset($_ENV['FC_EMULATOR_STANDBY'], $_SERVER['FC_EMULATOR_STANDBY']);
        foreach ($data['env'] as $name => $value) {
            $name = (string)$name;
            if ($name !== '' && strpos($name, '=') === false) {
                putenv($name . '=' . $value);
                $_ENV[$name] = $_SERVER[$name] = (string)$value;
            }
        }
        $now = microtime(true);  // a fresh start's $_SERVER has the time it started
        $_SERVER['REQUEST_TIME_FLOAT'] = $now;
        $_SERVER['REQUEST_TIME'] = (int)$now;
        $this->configure();
        return array(200, '{}', array('Content-Type: application/json'));
    }

    private function listen($host, $port)
    {
        $ctx = stream_context_create(array('socket' => array('backlog' => 128, 'tcp_nodelay' => true)));
        $this->server = @stream_socket_server("tcp://$host:$port", $errno, $errstr,
            STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, $ctx);
        if (!$this->server) {
            fwrite(STDERR, "fc-emulator php agent: cannot listen on $host:$port: $errstr\n");
            exit(1);
        }
    }

    private function loop()
    {
        while (true) {
            $read = $this->clients;
            $read[] = $this->server;
            $write = $except = null;
            if (@stream_select($read, $write, $except, null) === false) {
                continue;  // interrupted by a signal
            }
            foreach ($read as $sock) {
                if ($sock === $this->server) {
                    $this->accept();
                    continue;
                }
                do {
                    $open = $this->serveOne($sock);
                } while ($open && stream_get_meta_data($sock)['unread_bytes'] > 0);  // a pipelined request
                if (!$open) {
                    @fclose($sock);
                    unset($this->clients[(int)$sock]);
                }
            }
        }
    }

    private function accept()
    {
        $conn = @stream_socket_accept($this->server, 0);
        if (!$conn) {
            return;
        }
        stream_set_blocking($conn, true);
        stream_set_timeout($conn, 86400);
        if (function_exists('socket_import_stream')) {  // small answers leave at once (no Nagle wait)
            $s = @socket_import_stream($conn);
            if ($s) {
                @socket_set_option($s, SOL_TCP, TCP_NODELAY, 1);
            }
        }
        $this->clients[(int)$conn] = $conn;
    }

    /** Read one request, answer it; false when the connection is done. */
    private function serveOne($conn)
    {
        $line = @fgets($conn);
        if ($line === false || $line === '') {
            return false;
        }
        $parts = explode(' ', trim($line));
        if (count($parts) < 3) {
            return false;
        }
        list($method, $target, $version) = $parts;
        $h = array();
        while (($hl = @fgets($conn)) !== false) {
            $hl = rtrim($hl, "\r\n");
            if ($hl === '') {
                break;
            }
            $colon = strpos($hl, ':');
            if ($colon !== false) {
                $h[strtolower(substr($hl, 0, $colon))] = trim(substr($hl, $colon + 1));
            }
        }
        if ($hl === false) {
            return false;
        }
        $body = $this->readBody($conn, $h);
        if ($body === null) {
            return false;
        }
        $close = (isset($h['connection']) && strtolower($h['connection']) === 'close')
            || ($version === 'HTTP/1.0' && !(isset($h['connection']) && strtolower($h['connection']) === 'keep-alive'));
        $q = strpos($target, '?');
        $path = $q === false ? $target : substr($target, 0, $q);
        if ($this->runtime !== null) {
            list($status, $out, $extra) = $this->runtime->serve($path, $h, $body);
        } elseif ($method === 'POST' && $path === '/assign') {
            list($status, $out, $extra) = $this->assign($body);
        } else {
            list($status, $out, $extra) = array(400, json_encode(array(
                'errorMessage' => 'this standby instance has no function yet (POST /assign)')), array());
        }
        $head = 'HTTP/1.1 ' . $status . ($status === 200 ? ' OK' : ($status === 404 ? ' Not Found' : ' Bad Request')) . "\r\n";
        $typed = false;
        foreach ($extra as $x) {
            $typed = $typed || stripos($x, 'content-type:') === 0;
            $head .= $x . "\r\n";
        }
        if (!$typed) {
            $head .= "Content-Type: application/octet-stream\r\n";
        }
        $head .= 'Content-Length: ' . strlen($out) . "\r\nx-fc-max-memory-usage: " . self::maxMemory() . "\r\n"
            . ($close ? "Connection: close\r\n" : '') . "\r\n";
        return $this->writeAll($conn, strlen($out) < 65536 ? $head . $out : $head, strlen($out) < 65536 ? '' : $out) && !$close;
    }

    private function readBody($conn, array $h)
    {
        if (isset($h['content-length'])) {
            $len = (int)$h['content-length'];
            if ($len <= 0) {
                return '';
            }
            $body = stream_get_contents($conn, $len);
            return $body !== false && strlen($body) === $len ? $body : null;
        }
        if (isset($h['transfer-encoding']) && stripos($h['transfer-encoding'], 'chunked') !== false) {
            $body = '';
            while (($size = @fgets($conn)) !== false) {
                $n = hexdec(trim(explode(';', $size)[0]));
                if ($n === 0) {
                    while (($t = @fgets($conn)) !== false && rtrim($t, "\r\n") !== '') {
                    }
                    return $body;
                }
                $chunk = stream_get_contents($conn, $n);
                if ($chunk === false || strlen($chunk) !== $n) {
                    return null;
                }
                $body .= $chunk;
                @fgets($conn);
            }
            return null;
        }
        return '';
    }

    private function writeAll($conn, $first, $second)
    {
        foreach (array($first, $second) as $data) {
            $len = strlen($data);
            for ($off = 0; $off < $len; $off += $n) {
                $n = @fwrite($conn, $off === 0 ? $data : substr($data, $off));
                if (!$n) {
                    return false;
                }
            }
        }
        return true;
    }

    /** The process's peak resident size in MB (VmHWM), as the other agents report it. */
    private static function maxMemory()
    {
        $status = @file_get_contents('/proc/self/status');
        if ($status !== false && preg_match('/^VmHWM:\s+(\d+)/m', $status, $m)) {
            return sprintf('%.2f', $m[1] / 1024);
        }
        return sprintf('%.2f', memory_get_peak_usage(true) / 1048576);
    }
}

Agent::main();
