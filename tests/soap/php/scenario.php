<?php
// The SOAP door through PHP's SoapClient in WSDL mode, as a PHP user of the service calls it: plain
// arrays in, the objects SoapClient builds from the WSDL out (a fault's detail as a class of our own,
// through SoapClient's classmap). No hand-written XML goes in or out. Run by tests/soap/test_php.py:
//
//   php -d soap.wsdl_cache_enabled=0 scenario.php <wsdl url>
//
// It prints one JSON document: what each step saw, under the step's name. A step that throws records
// the error with the last request and answer on the wire, and the next step still runs.

declare(strict_types=1);


if ($argc !== 2) {
    fwrite(STDERR, "usage: php scenario.php <wsdl url>\n");
    exit(2);
}
$client = new SoapClient($argv[1], [
    'cache_wsdl' => WSDL_CACHE_NONE,  // ports are reused across runs: never a stale WSDL
    'trace' => 1,                     // __getLastRequest()/__getLastResponse() for the report and faults
    'exceptions' => true,
    'connection_timeout' => 10,
    'classmap' => ['Error' => ProcessEngineError::class],  // the fault detail's type, as a PHP class
]);
$seen = [];

/** One item or a list of them (SoapClient gives a repeatable element that occurs once as the item). */
function as_list($value): array
{
    return $value === null ? [] : (is_array($value) ? $value : [$value]);
}

/** A snapshot's pipeline as [name => [values]], from either data store form. */
function entries($snapshot): array
{
    $pipeline = $snapshot->pipeline ?? null;
    if ($pipeline === null) {
        return [];
    }
    $found = [];
    if (isset($pipeline->values) || isset($pipeline->entries)) {  // standard form: values by id
        $contents = [];
        foreach (as_list($pipeline->values->value ?? null) as $value) {
            $contents[$value->id] = $value->content;
        }
        foreach (as_list($pipeline->entries->entry ?? null) as $entry) {
            $found[$entry->name] = array_map(fn ($id) => $contents[$id] ?? null, as_list($entry->value ?? null));
        }
        return $found;
    }
    foreach (as_list($pipeline->entry ?? null) as $entry) {
        $found[$entry->name] = as_list($entry->value ?? null);
    }
    return $found;
}

/** What the test checks of a snapshot. */
function snapshot($snapshot): array
{
    return [
        'executionId' => $snapshot->executionId,
        'externalId' => $snapshot->externalId ?? null,
        'state' => $snapshot->state,
        'createdAt' => $snapshot->createdAt,
        'stateChangeIndex' => $snapshot->stateChangeIndex,
        'health' => $snapshot->health->state,
        'uri' => $snapshot->definitionInfo->uri,
        'entries' => entries($snapshot),
    ];
}

/** The WSDL's tns:Error, the detail of every `error` fault: SoapClient fills it in (classmap below). */
final class ProcessEngineError
{
    public string $type;
    public string $message;
}

/**
 * A SoapFault as a PHP user reads it. SoapClient decodes a fault's <detail> without the WSDL's wsdl:fault
 * declarations, by the detail's own xsi:type: the service names tns:Error there, so with the classmap
 * the detail's error is a SoapVar (SoapClient's typed value) whose enc_value is a ProcessEngineError.
 * The faultcode is the answer's QName text as written ("soap11env:Client"): its local part tells
 * Client from Server.
 */
function fault(SoapClient $client, SoapFault $fault): array
{
    $error = $fault->detail->error ?? null;
    $typed = $error instanceof SoapVar ? $error->enc_value : null;
    return [
        'faultcode' => $fault->faultcode ?? null,
        'faultstring' => $fault->faultstring ?? null,
        'detailClass' => is_object($typed) ? get_class($typed) : gettype($error),
        'detailType' => $error instanceof SoapVar ? [$error->enc_ns, $error->enc_stype] : null,
        'error' => $typed instanceof ProcessEngineError ? ['type' => $typed->type, 'message' => $typed->message] : null,
        'request' => $client->__getLastRequest(),
        'response' => $client->__getLastResponse(),
    ];
}

/** Runs one step; an exception is recorded with the wire, and the scenario goes on. */
function step(string $name, callable $body): void
{
    global $client, $seen;
    try {
        $seen[$name] = $body($client);
    } catch (Throwable $error) {
        $seen[$name] = [
            'unexpected' => get_class($error) . ': ' . $error->getMessage(),
            'fault' => $error instanceof SoapFault ? fault($client, $error) : null,
            'request' => $client->__getLastRequest(),
            'response' => $client->__getLastResponse(),
        ];
    }
}

/** Runs a call that must fail; its fault as fault() reads it, or what it answered instead. */
function expect_fault(SoapClient $client, callable $call): array
{
    try {
        $answer = $call($client);
    } catch (SoapFault $fault) {
        return fault($client, $fault);
    }
    return ['noFault' => $answer, 'request' => $client->__getLastRequest(), 'response' => $client->__getLastResponse()];
}

function external_id(): string
{
    return 'php-' . bin2hex(random_bytes(6));
}

// 1. run echo.ipd, processParams as the WSDL's DataStore type: the simple form, then the standard form.
step('runSimple', function (SoapClient $client) {
    $external = external_id();
    $r = $client->run([
        'processUri' => 'echo.ipd',
        'externalId' => $external,
        'processParams' => ['entry' => [['name' => 'in', 'type' => 'text/plain', 'value' => ['Zed']]]],
        'autoDispose' => 'never',
    ]);
    return ['sentExternalId' => $external, 'snapshot' => snapshot($r->processExecutionSnapshot)];
});

step('runStandard', function (SoapClient $client) {
    usleep(20000);  // a later createdAt than runSimple's, for the sort of step 3
    $external = external_id();
    $r = $client->run([
        'processUri' => 'echo.ipd',
        'externalId' => $external,
        'processParams' => [
            'values' => ['value' => [['id' => 'v1', 'type' => 'text/plain', 'content' => 'Ann']]],
            'entries' => ['entry' => [['name' => 'in', 'value' => ['v1']]]],
        ],
        'autoDispose' => 'never',
        'simpleDataStore' => false,  // and the answer in the standard form too
    ]);
    $pipeline = $r->processExecutionSnapshot->pipeline ?? null;
    return [
        'sentExternalId' => $external,
        'snapshot' => snapshot($r->processExecutionSnapshot),
        'standardForm' => isset($pipeline->values, $pipeline->entries) && !isset($pipeline->entry),
    ];
});

// A FAILED process among the externalIds step 3 asks for, which its `not` must leave out.
step('runFailing', function (SoapClient $client) {
    $external = external_id();
    $r = $client->run(['processUri' => 'fail.ipd', 'externalId' => $external, 'autoDispose' => 'never']);
    return ['sentExternalId' => $external, 'snapshot' => snapshot($r->processExecutionSnapshot)];
});

// 2. instantiate hold.ipd, start it without waiting, wait for its wait state, continue it, wait for its end.
step('lifecycle', function (SoapClient $client) {
    $external = external_id();
    $seen = ['sentExternalId' => $external];
    $created = $client->instantiate(['processUri' => 'hold.ipd', 'externalId' => $external, 'autoDispose' => 'never']);
    $seen['instantiated'] = snapshot($created->processExecutionSnapshot);
    $execution = $created->processExecutionSnapshot->executionId;

    $began = microtime(true);
    $started = $client->startProcess(['executionId' => $execution, 'timeout' => 0]);
    $seen['startSeconds'] = microtime(true) - $began;
    $seen['started'] = snapshot($started->processExecutionSnapshot);

    $waiting = $client->waitForProcess(['executionId' => $execution, 'states' => ['WAITING'], 'timeout' => 8000,
                                        'inspectPipeline' => true]);
    $seen['waiting'] = snapshot($waiting->processExecutionSnapshot);

    $continued = $client->startProcess(['executionId' => $execution, 'timeout' => 0]);
    $seen['continued'] = snapshot($continued->processExecutionSnapshot);

    $ended = $client->waitForProcess(['executionId' => $execution, 'states' => ['FINISHED'], 'timeout' => 8000]);
    $seen['ended'] = snapshot($ended->processExecutionSnapshot);
    return $seen;
});

// 3. findExecutions with the query as the WSDL's Query type: the runs of step 1 but not the failed one,
// newest first, one a page.
step('find', function (SoapClient $client) {
    global $seen;
    $ids = array_map(fn ($step) => $seen[$step]['sentExternalId'] ?? "missing-$step",
                     ['runSimple', 'runStandard', 'runFailing']);
    $pages = [];
    foreach ([0, 1, 2] as $offset) {
        $r = $client->findExecutions(['query' => [
            'and' => [
                'param' => [['field' => 'externalId', 'operation' => 'in', 'values' => ['value' => $ids]]],
                'not' => [['param' => ['field' => 'state', 'operation' => 'equals', 'values' => ['value' => ['FAILED']]]]],
            ],
            'sort' => ['criterion' => [['field' => 'createdAt', 'ascending' => false]]],
            'offset' => $offset,
            'limit' => 1,
        ]]);
        $pages[] = [
            'totalCount' => $r->totalCount,
            'snapshots' => array_map('snapshot', as_list($r->processExecutionSnapshots->processExecutionSnapshot ?? null)),
        ];
    }
    return ['externalIds' => $ids, 'pages' => $pages];
});

// 4. Faults, read through their detail.
step('notFound', fn (SoapClient $client) => expect_fault(
    $client, fn ($c) => $c->getProcessSnapshot(['executionId' => 'php-no-such-execution'])));

step('badTimeout', fn (SoapClient $client) => expect_fault(
    $client, fn ($c) => $c->run(['processUri' => 'echo.ipd', 'externalId' => external_id(), 'timeout' => -5])));

// 5. Operations without parameters: SoapClient sends an empty request wrapper.
step('version', function (SoapClient $client) {
    $r = $client->version();
    return ['version' => $r->version ?? null, 'request' => $client->__getLastRequest()];
});

step('nodeState', function (SoapClient $client) {
    $r = $client->getNodeState();
    $node = $r->nodeState;
    return [
        'engineId' => $node->engineId,
        'online' => $node->online,
        'runningProcesses' => $node->runningProcesses,
        'master' => $node->cluster->master,
        'connectionStatus' => $node->cluster->connectionStatus,
        'handlers' => as_list($node->cluster->waitStateHandlers->handler ?? null),
        'request' => $client->__getLastRequest(),
    ];
});

echo json_encode($seen, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR), "\n";
