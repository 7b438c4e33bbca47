<?php
// Runs a PHP action in OpenWhisk's action loop: `function main(array $args): array`, as openwhisk-runtime-php.
// Loads the code once (src/exec for source text, src/index.php for a zip, with vendor/autoload.php when the zip has
// it), says {"ok": true} on fd 3 (or {"error": why} when the code cannot load), then reads one request per line on
// fd 4 (runtimes/php/launch) and writes each result as one line on fd 3. What the action prints is its log.
$src = $argv[1];
$main = $argv[2] ?? 'main';
$results = fopen('php://fd/3', 'w');
$requests = fopen('php://fd/4', 'r');
const FLAGS = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE;

function refuse($results, string $message): void
{
    fwrite($results, json_encode(['error' => $message], FLAGS) . "\n");
    exit(1);
}

$entry = is_file("$src/exec") ? "$src/exec" : "$src/index.php";
if (!is_file($entry)) {
    refuse($results, 'PHP actions need index.php at the top of their zip.');
}
chdir($src);
if (is_file("$src/vendor/autoload.php")) {
    require "$src/vendor/autoload.php";
}
try {
    require $entry;
} catch (\Throwable $e) {
    fwrite(STDERR, $e . "\n");
    refuse($results, 'The action failed to load: ' . $e->getMessage());
}
if (!function_exists($main)) {
    refuse($results, "The action has no function named '$main'.");
}
fwrite($results, "{\"ok\":true}\n");
while (($line = fgets($requests)) !== false) {
    $request = json_decode($line, true);
    $args = $request['value'] ?? [];
    unset($request['value']);
    foreach ($request as $key => $value) {
        $text = is_string($value) ? $value : json_encode($value, FLAGS);
        putenv('__OW_' . strtoupper($key) . '=' . $text);
        $_ENV['__OW_' . strtoupper($key)] = $text;
    }
    try {
        $result = $main($args);
    } catch (\Throwable $e) {
        fwrite(STDERR, $e . "\n");
        $result = ['error' => $e->getMessage()];
    }
    // PHP cannot tell an empty object from an empty list: an action's result is an object unless it has items.
    $json = $result === [] ? '{}' : json_encode($result, FLAGS);
    if ($json === false) {
        $json = json_encode(['error' => "The action's result cannot be written as JSON: " . json_last_error_msg()]);
    }
    fwrite($results, $json . "\n");
}
