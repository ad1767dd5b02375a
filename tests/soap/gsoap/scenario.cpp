// A C++ user of the process engine: the client gSOAP generated from the served WSDL (wsdl2h, then
// soapcpp2 -j: the ProcessEngineProxy class and the classes of the WSDL's types), and nothing else (no
// hand-written XML). Built and run by tests/soap/test_gsoap.py:
//
//   scenario <endpoint url> <externalId prefix>
//
// It prints one JSON document: the SOAP version and envelope namespace gSOAP spoke, and per step what the
// generated classes read back, or the fault the call answered (its typed detail) or the error gSOAP met,
// with the step's SOAP exchanges as sent and received (captured through the context's fsend/frecv
// callbacks). A step that fails does not stop the next one.

#include "soapProcessEngineProxy.h"
#include "ProcessEngine.nsmap"

#include <chrono>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace {

ProcessEngineProxy *engine;

// -- the SOAP exchanges of the current step -------------------------------------------------------------
std::string wire;
char direction;  // '>' while sending, '<' while receiving
int (*send_bytes)(struct soap *, const char *, size_t);
size_t (*receive_bytes)(struct soap *, char *, size_t);

void mark(char now) {
    if (direction != now) {
        wire += now == '>' ? "\n>>> sent\n" : "\n<<< received\n";
        direction = now;
    }
}

int capture_send(struct soap *soap, const char *bytes, size_t length) {
    mark('>');
    wire.append(bytes, length);
    return send_bytes(soap, bytes, length);
}

size_t capture_receive(struct soap *soap, char *bytes, size_t length) {
    size_t received = receive_bytes(soap, bytes, length);
    mark('<');
    wire.append(bytes, received);
    return received;
}

// -- a small JSON writer (the values below are JSON text already) ---------------------------------------
std::string str(const std::string &text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
            out += escaped;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

std::string str(const std::string *text) { return text == nullptr ? "null" : str(*text); }

std::string str(const char *text) { return text == nullptr ? "null" : str(std::string(text)); }

std::string number(long long value) { return std::to_string(value); }

std::string object(std::initializer_list<std::pair<std::string, std::string>> members) {
    std::string out = "{";
    for (const auto &member : members) {
        out += (out.size() > 1 ? "," : "") + str(member.first) + ":" + member.second;
    }
    return out + "}";
}

std::string object(const std::vector<std::pair<std::string, std::string>> &members) {
    std::string out = "{";
    for (const auto &member : members) {
        out += (out.size() > 1 ? "," : "") + str(member.first) + ":" + member.second;
    }
    return out + "}";
}

std::string list(const std::vector<std::string> &items) {
    std::string out = "[";
    for (const auto &item : items) {
        out += (out.size() > 1 ? "," : "") + item;
    }
    return out + "]";
}

// -- reading what the generated classes give back -------------------------------------------------------
/** An xs:anyType value: gSOAP's xsd__anyType holds untyped content as its XML text (the _XML __item); a
 * value marked xsi:type="xsd:string" comes as the derived class xsd__string_. */
std::string text(const xsd__anyType *value) {
    if (value == nullptr) {
        return "null";
    }
    if (value->soap_type() == SOAP_TYPE_xsd__string_) {
        return str(static_cast<const xsd__string_ *>(value)->__item);
    }
    return str(value->__item);
}

std::string class_name(const xsd__anyType *value) {
    if (value == nullptr) {
        return "null";
    }
    switch (value->soap_type()) {
        case SOAP_TYPE_xsd__anyType: return str("xsd__anyType");
        case SOAP_TYPE_xsd__string_: return str("xsd__string_");
        default: return str("SOAP_TYPE " + std::to_string(value->soap_type()));
    }
}

/** The pipeline as {form, entries: {name: [text]}, valueClasses: [gSOAP class of each value]}. */
std::string pipeline(const dat__DataStore *store) {
    std::vector<std::pair<std::string, std::string>> entries;
    std::vector<std::string> classes;
    std::string form;
    if (store->values != nullptr || store->entries != nullptr) {
        form = "standard";
        std::vector<std::pair<std::string, const xsd__anyType *>> contents;
        if (store->values != nullptr) {
            for (const dat__StoredValue *value : store->values->value) {
                contents.emplace_back(value->id, value->content);
                classes.push_back(class_name(value->content));
            }
        }
        if (store->entries != nullptr) {
            for (const dat__StandardEntry *entry : store->entries->entry) {
                std::vector<std::string> texts;
                for (const std::string &ref : entry->value) {
                    std::string found = "null";
                    for (const auto &content : contents) {
                        if (content.first == ref) {
                            found = text(content.second);
                        }
                    }
                    texts.push_back(found);
                }
                entries.emplace_back(entry->name, list(texts));
            }
        }
    } else {
        form = "simple";
        for (const dat__SimpleEntry *entry : store->entry) {
            std::vector<std::string> texts;
            for (const xsd__anyType *value : entry->value) {
                texts.push_back(text(value));
                classes.push_back(class_name(value));
            }
            entries.emplace_back(entry->name, list(texts));
        }
    }
    return object({{"form", str(form)}, {"entries", object(entries)}, {"valueClasses", list(classes)}});
}

std::string snapshot(const pe__ProcessExecutionSnapshot *snapshot) {
    if (snapshot == nullptr) {
        return "null";
    }
    struct soap *soap = engine->soap;
    return object({
        {"executionId", str(snapshot->executionId)},
        {"externalId", str(snapshot->externalId)},
        {"state", str(soap_pe__ExecutionState2s(soap, snapshot->state))},
        {"autoDispose", str(soap_pe__AutoDispose2s(soap, snapshot->autoDispose))},
        {"stateChangeIndex", number(snapshot->stateChangeIndex)},
        {"uri", snapshot->definitionInfo == nullptr ? "null" : str(snapshot->definitionInfo->uri)},
        {"health", snapshot->health == nullptr ? "null" : str(soap_pe__HealthState2s(soap, snapshot->health->state))},
        {"pipeline", snapshot->pipeline == nullptr ? "null" : pipeline(snapshot->pipeline)},
    });
}

// -- a step: its result, or the fault the service answered, or the error gSOAP met -----------------------
struct Failed {};

/** A proxy call's return code: anything but SOAP_OK ends the step (its fault is in engine->soap). */
void check(int code) {
    if (code != SOAP_OK) {
        throw Failed();
    }
}

std::string error_name(int code) {
    switch (code) {
        case SOAP_FAULT: return "SOAP_FAULT";
        case SOAP_CLI_FAULT: return "SOAP_CLI_FAULT";
        case SOAP_SVR_FAULT: return "SOAP_SVR_FAULT";
        default: return "SOAP error " + std::to_string(code);
    }
}

/** A received SOAP 1.1 fault as gSOAP hands it over: soap->fault, its detail deserialized into the
 * generated members for the WSDL's fault elements (pe__error of class pe__Error, pe__errors). */
std::string fault() {
    struct soap *soap = engine->soap;
    const SOAP_ENV__Fault *fault = soap->fault;
    const SOAP_ENV__Detail *detail = fault->detail;
    std::string error = "null";
    std::string holds = "nothing";
    if (detail != nullptr && detail->pe__error != nullptr) {
        holds = "pe__error";
        const pe__Error *typed = detail->pe__error;
        error = object({{"class", typed->soap_type() == SOAP_TYPE_pe__Error ? str("pe__Error") : number(typed->soap_type())},
                        {"type", str(typed->type)},
                        {"message", str(typed->message)}});
    } else if (detail != nullptr && detail->pe__errors != nullptr) {
        holds = "pe__errors";
    } else if (detail != nullptr && detail->__any != nullptr) {
        holds = "__any";
    }
    return object({
        {"error", str(error_name(soap->error))},
        {"faultcode", str(fault->faultcode)},
        {"faultstring", str(fault->faultstring)},
        {"detail", detail == nullptr ? "null" : str(holds)},
        {"detailAny", detail == nullptr ? "null" : str(detail->__any)},
        {"typed", error},
    });
}

template <class Body>
std::string step(Body body) {
    wire.clear();
    direction = 0;
    std::string outcome;
    try {
        outcome = "\"result\":" + body();
    } catch (const Failed &) {
        int code = engine->soap->error;
        if (code == SOAP_FAULT || code == SOAP_CLI_FAULT || code == SOAP_SVR_FAULT) {
            outcome = "\"fault\":" + fault();
        } else {
            char message[2048];
            engine->soap_sprint_fault(message, sizeof message);
            outcome = "\"error\":" + object({{"code", number(code)}, {"message", str(message)}});
        }
    }
    return "{" + outcome + ",\"wire\":" + str(wire) + "}";
}

// -- the steps -----------------------------------------------------------------------------------------
/** run echo.ipd with `in` = Zed in the simple form, built from the generated classes. */
std::string run_simple(const std::string &externalId) {
    struct soap *soap = engine->soap;
    xsd__string_ *zed = soap_new_xsd__string_(soap);  // xs:anyType: a string goes in as xsd__string_
    zed->__item = "Zed";
    dat__SimpleEntry *entry = soap_new_dat__SimpleEntry(soap);
    entry->name = "in";
    entry->type = soap_new_std__string(soap);
    *entry->type = "text/plain";
    entry->value.push_back(zed);
    dat__DataStore *params = soap_new_dat__DataStore(soap);
    params->entry.push_back(entry);

    pe__run request;
    request.processUri = "echo.ipd";
    request.externalId = soap_new_std__string(soap);
    *request.externalId = externalId;
    request.processParams = params;
    enum pe__AutoDispose never = pe__AutoDispose__never;
    request.autoDispose = &never;
    pe__runResponse response;
    check(engine->run(&request, response));
    return snapshot(response.processExecutionSnapshot);
}

/** run fail.ipd: a FAILED process among the externalIds find() asks for, which its `not` leaves out. */
std::string run_fail(const std::string &externalId) {
    pe__run request;
    request.processUri = "fail.ipd";
    std::string external = externalId;
    request.externalId = &external;
    enum pe__AutoDispose never = pe__AutoDispose__never;
    request.autoDispose = &never;
    pe__runResponse response;
    check(engine->run(&request, response));
    return snapshot(response.processExecutionSnapshot);
}

/** The snapshot a call answers, with how long the call took (elapsedMs). */
template <class Call>
std::string timed(Call call) {
    auto start = std::chrono::steady_clock::now();
    const pe__ProcessExecutionSnapshot *answer = call();
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    std::string fields = snapshot(answer);
    return fields.substr(0, fields.size() - 1) + ",\"elapsedMs\":" + number(elapsed.count()) + "}";
}

const pe__ProcessExecutionSnapshot *start(const std::string &executionId) {
    pe__startProcess request;
    request.executionId = executionId;
    LONG64 zero = 0;  // answer at once
    request.timeout = &zero;
    pe__startProcessResponse *response = soap_new_pe__startProcessResponse(engine->soap);
    check(engine->startProcess(&request, *response));
    return response->processExecutionSnapshot;
}

const pe__ProcessExecutionSnapshot *wait(const std::string &executionId, const char *state, LONG64 timeout) {
    pe__waitForProcess request;
    request.executionId = executionId;
    request.timeout = &timeout;
    request.states.push_back(state);
    pe__waitForProcessResponse *response = soap_new_pe__waitForProcessResponse(engine->soap);
    check(engine->waitForProcess(&request, *response));
    return response->processExecutionSnapshot;
}

/** instantiate hold.ipd, start it without waiting, wait for WAITING, continue it, wait for its end. */
std::string hold(const std::string &externalId) {
    pe__instantiate request;
    std::string uri = "hold.ipd", external = externalId;
    request.processUri = &uri;
    request.externalId = &external;
    enum pe__AutoDispose never = pe__AutoDispose__never;
    request.autoDispose = &never;
    pe__instantiateResponse created;
    check(engine->instantiate(&request, created));
    if (created.processExecutionSnapshot == nullptr) {
        return object({{"instantiate", "null"}});
    }
    const std::string id = created.processExecutionSnapshot->executionId;
    std::vector<std::pair<std::string, std::string>> steps;
    steps.emplace_back("instantiate", snapshot(created.processExecutionSnapshot));
    steps.emplace_back("start", timed([&] { return start(id); }));
    steps.emplace_back("waitWaiting", timed([&] { return wait(id, "WAITING", 10000); }));
    steps.emplace_back("continue", timed([&] { return start(id); }));
    steps.emplace_back("waitFinished", timed([&] { return wait(id, "FINISHED", 15000); }));
    return object(steps);
}

q__Param *param(enum q__Field field, enum q__Operation operation, const std::vector<std::string> &values) {
    struct soap *soap = engine->soap;
    q__Param *param = soap_new_q__Param(soap);
    param->field = field;
    param->operation = operation;
    param->values = soap_new_q__ParamValues(soap);
    param->values->dat__value = values;
    return param;
}

/** findExecutions: its totalCount (xs:integer) is a std::string in gSOAP, the snapshots a vector. */
std::string page(q__Query *query) {
    pe__findExecutions request;
    request.query = query;
    pe__findExecutionsResponse response;
    check(engine->findExecutions(&request, response));
    std::string snapshots = "null";
    if (response.processExecutionSnapshots != nullptr) {
        std::vector<std::string> items;
        for (const pe__ProcessExecutionSnapshot *found : response.processExecutionSnapshots->processExecutionSnapshot) {
            items.push_back(snapshot(found));
        }
        snapshots = list(items);
    }
    return object({{"totalCount", str(response.totalCount)}, {"snapshots", snapshots}});
}

/** (externalId in ids) AND NOT(state equals FAILED), sorted by createdAt, one page of one at `offset`. */
q__Query *query(const std::vector<std::string> &externalIds, bool ascending, int offset) {
    struct soap *soap = engine->soap;
    q__Not *notFailed = soap_new_q__Not(soap);
    notFailed->param = param(q__Field__state, q__Operation__equals, {"FAILED"});
    q__Nodes *all = soap_new_q__Nodes(soap);
    all->param.push_back(param(q__Field__externalId, q__Operation__in, externalIds));
    all->not_.push_back(notFailed);
    q__Criterion *byCreation = soap_new_q__Criterion(soap);
    byCreation->field = q__Field__createdAt;
    byCreation->ascending = soap_new_bool(soap);
    *byCreation->ascending = ascending;
    q__Query *query = soap_new_q__Query(soap);
    query->and_ = all;  // the query's one node: set one of and_, or_, not_, param
    query->sort = soap_new_q__Sort(soap);
    query->sort->criterion.push_back(byCreation);
    query->offset = soap_new_std__string(soap);  // q:Count, an xs:nonNegativeInteger: a std::string
    *query->offset = std::to_string(offset);
    query->limit = soap_new_std__string(soap);
    *query->limit = "1";
    return query;
}

/** Newest first at offsets 0, 1 and 2 (past the matches); then oldest first, the first page. */
std::string find(const std::vector<std::string> &externalIds) {
    std::vector<std::pair<std::string, std::string>> pages;
    for (int offset = 0; offset < 3; offset++) {
        pages.emplace_back("offset" + std::to_string(offset), page(query(externalIds, false, offset)));
    }
    pages.emplace_back("ascending", page(query(externalIds, true, 0)));
    return object(pages);
}

std::string not_found(const std::string &executionId) {
    pe__getProcessSnapshot request;
    request.executionId = executionId;
    pe__getProcessSnapshotResponse response;
    check(engine->getProcessSnapshot(&request, response));
    return snapshot(response.processExecutionSnapshot);
}

std::string negative_timeout(const std::string &externalId) {
    pe__run request;
    request.processUri = "echo.ipd";
    std::string external = externalId;
    request.externalId = &external;
    LONG64 timeout = -5;
    request.timeout = &timeout;
    pe__runResponse response;
    check(engine->run(&request, response));
    return snapshot(response.processExecutionSnapshot);
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: scenario <endpoint url> <externalId prefix>\n");
        return 2;
    }
    const std::string prefix = argv[2];
    ProcessEngineProxy proxy(argv[1]);  // the endpoint of the server under test, not the WSDL's address
    engine = &proxy;
    proxy.soap->connect_timeout = 10;
    proxy.soap->send_timeout = proxy.soap->recv_timeout = 60;
    send_bytes = proxy.soap->fsend;
    receive_bytes = proxy.soap->frecv;
    proxy.soap->fsend = capture_send;
    proxy.soap->frecv = capture_receive;

    const int versionBefore = proxy.soap->version;
    const std::string simpleId = prefix + "-simple", holdId = prefix + "-hold", failId = prefix + "-fail";
    std::vector<std::pair<std::string, std::string>> report;
    report.emplace_back("runSimple", step([&] { return run_simple(simpleId); }));
    // SOAP 1.1 or 1.2: what the generated namespace table declares for SOAP-ENV, and what gSOAP read back
    report.emplace_back("soap", object({{"envelopeNamespace", str(proxy.soap->namespaces[0].ns)},
                                        {"versionBefore", number(versionBefore)},
                                        {"versionAfter", number(proxy.soap->version)}}));
    report.emplace_back("hold", step([&] { return hold(holdId); }));
    report.emplace_back("runFail", step([&] { return run_fail(failId); }));
    report.emplace_back("find", step([&] { return find({simpleId, holdId, failId}); }));
    report.emplace_back("notFound", step([&] { return not_found(prefix + "-no-such-execution"); }));
    report.emplace_back("negativeTimeout", step([&] { return negative_timeout(prefix + "-negative"); }));
    std::printf("%s\n", object(report).c_str());
    proxy.destroy();
    return 0;
}
