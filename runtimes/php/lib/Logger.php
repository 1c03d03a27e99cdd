<?php
/*
 * $GLOBALS['fcLogger'] (runtimes.md §13.6): the methods of a Monolog Logger, plus setLevel() as FC's
 * subclass has it, writing `<UTC time>Z <requestId> [<LEVEL>] <message>` lines to stdout.
 */
namespace FcPhpRuntime;

class Logger
{
    const DEBUG = 100;
    const INFO = 200;
    const NOTICE = 250;
    const WARNING = 300;
    const ERROR = 400;
    const CRITICAL = 500;
    const ALERT = 550;
    const EMERGENCY = 600;

    private static $names = array(100 => 'DEBUG', 200 => 'INFO', 250 => 'NOTICE', 300 => 'WARNING',
        400 => 'ERROR', 500 => 'CRITICAL', 550 => 'ALERT', 600 => 'EMERGENCY');

    /** @var string the id of the request being served ('' outside one) */
    public static $requestId = '';

    private $name;
    private $level = self::INFO;

    public function __construct($name = 'fc')
    {
        $this->name = $name;
    }

    public function getName()
    {
        return $this->name;
    }

    /** 'warning', 'WARNING', Logger::WARNING or 300: the minimum level written from now on */
    public function setLevel($level)
    {
        $this->level = self::toLevel($level);
    }

    public function getLevel()
    {
        return $this->level;
    }

    public function isHandling($level)
    {
        return self::toLevel($level) >= $this->level;
    }

    public static function getLevels()
    {
        return array_flip(self::$names);
    }

    public static function getLevelName($level)
    {
        $level = self::toLevel($level);
        return self::$names[$level];
    }

    public static function toLevel($level)
    {
        if (is_string($level) && !is_numeric($level)) {
            $key = array_search(strtoupper($level), self::$names, true);
            if ($key === false) {
                throw new \InvalidArgumentException('Level "' . $level . '" is not defined, use one of: '
                    . implode(', ', self::$names));
            }
            return $key;
        }
        $level = (int)$level;
        if (!isset(self::$names[$level])) {
            throw new \InvalidArgumentException('Level "' . $level . '" is not defined, use one of: '
                . implode(', ', array_keys(self::$names)));
        }
        return $level;
    }

    public function log($level, $message, array $context = array())
    {
        return $this->addRecord(self::toLevel($level), $message, $context);
    }

    public function addRecord($level, $message, array $context = array())
    {
        $level = self::toLevel($level);
        if ($level < $this->level) {
            return false;
        }
        $line = gmdate('Y-m-d\TH:i:s\Z') . ' ' . self::$requestId . ' [' . self::$names[$level] . '] '
            . self::text($message);
        if ($context) {
            $line .= ' ' . json_encode($context, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR);
        }
        fwrite(STDOUT, $line . "\n");
        return true;
    }

    private static function text($message)
    {
        if (is_string($message)) {
            return $message;
        }
        if (is_scalar($message) || $message === null || (is_object($message) && method_exists($message, '__toString'))) {
            return (string)$message;
        }
        return json_encode($message, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR);
    }

    public function debug($message, array $context = array()) { return $this->addRecord(self::DEBUG, $message, $context); }
    public function info($message, array $context = array()) { return $this->addRecord(self::INFO, $message, $context); }
    public function notice($message, array $context = array()) { return $this->addRecord(self::NOTICE, $message, $context); }
    public function warning($message, array $context = array()) { return $this->addRecord(self::WARNING, $message, $context); }
    public function error($message, array $context = array()) { return $this->addRecord(self::ERROR, $message, $context); }
    public function critical($message, array $context = array()) { return $this->addRecord(self::CRITICAL, $message, $context); }
    public function alert($message, array $context = array()) { return $this->addRecord(self::ALERT, $message, $context); }
    public function emergency($message, array $context = array()) { return $this->addRecord(self::EMERGENCY, $message, $context); }

    // Monolog 1's other names for the same calls
    public function warn($message, array $context = array()) { return $this->warning($message, $context); }
    public function err($message, array $context = array()) { return $this->error($message, $context); }
    public function crit($message, array $context = array()) { return $this->critical($message, $context); }
    public function emerg($message, array $context = array()) { return $this->emergency($message, $context); }
    public function addDebug($message, array $context = array()) { return $this->debug($message, $context); }
    public function addInfo($message, array $context = array()) { return $this->info($message, $context); }
    public function addNotice($message, array $context = array()) { return $this->notice($message, $context); }
    public function addWarning($message, array $context = array()) { return $this->warning($message, $context); }
    public function addError($message, array $context = array()) { return $this->error($message, $context); }
    public function addCritical($message, array $context = array()) { return $this->critical($message, $context); }
    public function addAlert($message, array $context = array()) { return $this->alert($message, $context); }
    public function addEmergency($message, array $context = array()) { return $this->emergency($message, $context); }
}
