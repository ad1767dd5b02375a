import client.DataStore;
import client.Entries;
import client.SimpleEntry;
import client.StandardEntry;
import client.StoredValue;
import client.TotalCountRelation;
import client.Values;
import client.AutoDispose;
import client.Error_Exception;
import client.Errors_Exception;
import client.ProcessEngine;
import client.ProcessEngineService;
import client.ProcessExecutionSnapshot;
import client.ProcessExecutionSnapshots;
import client.Criterion;
import client.Field;
import client.Nodes;
import client.Not;
import client.Operation;
import client.Param;
import client.ParamValues;
import client.Query;
import client.Sort;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.math.BigInteger;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.xml.namespace.QName;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.Holder;
import org.w3c.dom.Element;

/**
 * A Java user of the process engine: the stubs `wsimport` generated from the served WSDL, and nothing
 * else (no hand-written XML). Arguments: the WSDL URL, the endpoint address, and a prefix for the
 * externalIds of this run. Prints one JSON object to stdout: per step what the stubs read back, or the
 * exception a call threw, with the SOAP exchanges of that step (the JAX-WS transport dump, which the
 * caller enables with -Dcom.sun.xml.ws.transport.http.client.HttpTransportPipe.dump=true).
 */
public final class Scenario {
    private static final ByteArrayOutputStream WIRE = new ByteArrayOutputStream();
    private static ProcessEngine port;

    public static void main(String[] args) throws Exception {
        PrintStream out = System.out;
        // The transport dump writes to System.out: keep it per step for the report, stdout for the JSON.
        System.setOut(new PrintStream(WIRE, true, StandardCharsets.UTF_8));
        String wsdl = args[0], endpoint = args[1], prefix = args[2];

        ProcessEngineService service = new ProcessEngineService(
            new URL(wsdl), new QName("http://www.infinica.com/process-engine", "ProcessEngineService"));
        port = service.getPort(ProcessEngine.class);
        ((BindingProvider) port).getRequestContext().put(BindingProvider.ENDPOINT_ADDRESS_PROPERTY, endpoint);

        Map<String, Object> report = new LinkedHashMap<>();
        String simpleId = prefix + "-simple", standardId = prefix + "-standard";
        String holdId = prefix + "-hold", failId = prefix + "-fail";
        report.put("runSimple", step(() -> runSimple(simpleId)));
        report.put("runStandard", step(() -> runStandard(standardId)));
        report.put("runLarge", step(() -> runLarge(prefix + "-large")));
        report.put("hold", step(() -> hold(holdId)));
        report.put("runFail", step(() -> snapshot(port.run("fail.ipd", failId, null, null, null, null, null,
            null, null, null, null, null, AutoDispose.NEVER, null, null))));
        report.put("find", step(() -> find(Arrays.asList(simpleId, holdId, failId))));
        report.put("findPagingOnly", step(() -> findPagingOnly()));
        report.put("notFound", step(() -> port.getProcessSnapshot(prefix + "-no-such-execution", null, null, null)));
        report.put("negativeTimeout", step(() -> port.run("echo.ipd", prefix + "-negative", null, null, null,
            null, -5L, null, null, null, null, null, AutoDispose.NEVER, null, null)));

        System.out.flush();
        out.println(json(report));
        out.flush();
    }

    // -- the steps ----------------------------------------------------------------------------------
    /** run echo.ipd with `in` = Zed in the simple form, built from the generated classes. */
    private static Object runSimple(String externalId) throws Exception {
        SimpleEntry entry = new SimpleEntry();
        entry.setName("in");
        entry.setType("text/plain");
        entry.getValue().add("Zed");  // xs:anyType: a String goes in
        DataStore params = new DataStore();
        params.getEntry().add(entry);
        return snapshot(port.run("echo.ipd", externalId, null, null, params, null, null, null, null, null, null,
            null, AutoDispose.NEVER, null, null));
    }

    /** run echo.ipd with `in` = Zed and 6,000 entries more, about 2 MB: a store the service reads as the
     *  envelope is parsed, each value typed xs:string as JAX-WS writes a String for xs:anyType. */
    private static Object runLarge(String externalId) throws Exception {
        DataStore params = new DataStore();
        SimpleEntry in = new SimpleEntry();
        in.setName("in");
        in.setType("text/plain");
        in.getValue().add("Zed");
        params.getEntry().add(in);
        String filler = "x".repeat(200);
        for (int n = 0; n < 6000; n++) {
            SimpleEntry entry = new SimpleEntry();
            entry.setName("bulk" + n);
            entry.setType("text/plain");
            entry.getValue().add(n + " " + filler);
            params.getEntry().add(entry);
        }
        return snapshot(port.run("echo.ipd", externalId, null, null, params, null, null, null, null, null, null,
            null, AutoDispose.NEVER, null, null));
    }

    /** run echo.ipd with `in` = Zed in the standard form; the pipeline read back in the standard form. */
    private static Object runStandard(String externalId) throws Exception {
        StoredValue value = new StoredValue();
        value.setId("v1");
        value.setType("text/plain");
        value.setContent("Zed");
        Values values = new Values();
        values.getValue().add(value);
        StandardEntry entry = new StandardEntry();
        entry.setName("in");
        entry.getValue().add("v1");
        Entries entries = new Entries();
        entries.getEntry().add(entry);
        DataStore params = new DataStore();
        params.setValues(values);
        params.setEntries(entries);
        return snapshot(port.run("echo.ipd", externalId, null, null, params, null, null, null, null, null, null,
            null, AutoDispose.NEVER, null, false));
    }

    /** instantiate hold.ipd, start it without waiting, wait for WAITING, continue it, wait for its end. */
    private static Object hold(String externalId) throws Exception {
        Map<String, Object> result = new LinkedHashMap<>();
        ProcessExecutionSnapshot created = port.instantiate("hold.ipd", externalId, null, null, null, null,
            AutoDispose.NEVER, null, null);
        result.put("instantiate", snapshot(created));
        String id = created.getExecutionId();
        result.put("start", timed(() -> port.startProcess(id, null, null, 0L, null, null, null, null, null)));
        result.put("waitWaiting", timed(() -> port.waitForProcess(id, 10000L, null, null, null,
            Collections.singletonList("WAITING"), null, null, null)));
        result.put("continue", timed(() -> port.startProcess(id, null, null, 0L, null, null, null, null, null)));
        result.put("waitFinished", timed(() -> port.waitForProcess(id, 15000L, null, null, null,
            Collections.singletonList("FINISHED"), null, null, null)));
        return result;
    }

    interface SnapshotCall {
        ProcessExecutionSnapshot call() throws Exception;
    }

    /** The snapshot a call answers, with how long the call took (elapsedMs). */
    private static Map<String, Object> timed(SnapshotCall call) throws Exception {
        long start = System.nanoTime();
        ProcessExecutionSnapshot answer = call.call();
        long elapsed = (System.nanoTime() - start) / 1_000_000;
        Map<String, Object> result = snapshot(answer);
        result.put("elapsedMs", elapsed);
        return result;
    }

    /** (externalId in ids) AND NOT(state equals FAILED), newest first, one page of one, twice. */
    private static Object find(List<String> externalIds) throws Exception {
        Map<String, Object> result = new LinkedHashMap<>();
        for (long offset = 0; offset < 2; offset++) {
            Param in = param(Field.EXTERNAL_ID, Operation.IN, externalIds);
            Not notFailed = new Not();
            notFailed.setParam(param(Field.STATE, Operation.EQUALS, Collections.singletonList("FAILED")));
            Nodes and = new Nodes();
            and.getParam().add(in);
            and.getNot().add(notFailed);
            Criterion newestFirst = new Criterion();
            newestFirst.setField(Field.CREATED_AT);
            newestFirst.setAscending(false);
            Sort sort = new Sort();
            sort.getCriterion().add(newestFirst);
            Query query = new Query();
            query.setAnd(and);
            query.setSort(sort);
            query.setOffset(offset);
            query.setLimit(1L);

            result.put("offset" + offset, page(query));
        }
        return result;
    }

    /** A query of paging only (no node): every process matches, one page of one. */
    private static Object findPagingOnly() throws Exception {
        Query query = new Query();
        query.setLimit(1L);
        return page(query);
    }

    /** findExecutions: its two outputs come back through Holders. */
    private static Map<String, Object> page(Query query) throws Exception {
        Holder<ProcessExecutionSnapshots> found = new Holder<>();
        Holder<BigInteger> totalCount = new Holder<>();
        Holder<TotalCountRelation> relation = new Holder<>();  // set only when totalCount is a lower bound
        port.findExecutions(query, null, null, found, totalCount, relation);
        Map<String, Object> page = new LinkedHashMap<>();
        List<Object> snapshots = new ArrayList<>();
        if (found.value != null) {
            for (ProcessExecutionSnapshot snapshot : found.value.getProcessExecutionSnapshot()) {
                snapshots.add(snapshot(snapshot));
            }
        }
        page.put("snapshots", found.value == null ? null : snapshots);
        page.put("totalCount", totalCount.value == null ? null : totalCount.value.longValue());
        page.put("totalCountRelation", relation.value == null ? null : relation.value.value());
        return page;
    }

    private static Param param(Field field, Operation operation, List<String> values) {
        ParamValues holder = new ParamValues();
        holder.getValue().addAll(values);
        Param param = new Param();
        param.setField(field);
        param.setOperation(operation);
        param.setValues(holder);
        return param;
    }

    // -- reading what the stubs give back -----------------------------------------------------------
    private static Map<String, Object> snapshot(ProcessExecutionSnapshot snapshot) {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("executionId", snapshot.getExecutionId());
        result.put("externalId", snapshot.getExternalId());
        result.put("state", snapshot.getState() == null ? null : snapshot.getState().value());
        result.put("autoDispose", snapshot.getAutoDispose() == null ? null : snapshot.getAutoDispose().value());
        result.put("createdAt", snapshot.getCreatedAt() == null ? null : snapshot.getCreatedAt().toXMLFormat());
        result.put("uri", snapshot.getDefinitionInfo() == null ? null : snapshot.getDefinitionInfo().getUri());
        result.put("health", snapshot.getHealth() == null || snapshot.getHealth().getState() == null
            ? null : snapshot.getHealth().getState().value());
        result.put("pipeline", snapshot.getPipeline() == null ? null : pipeline(snapshot.getPipeline()));
        return result;
    }

    /** The pipeline as {form, entries: {name: [text]}, valueClasses: [Java class of each value]}. */
    private static Map<String, Object> pipeline(DataStore store) {
        Map<String, Object> result = new LinkedHashMap<>();
        Map<String, Object> entries = new LinkedHashMap<>();
        List<Object> classes = new ArrayList<>();
        if (store.getValues() != null || store.getEntries() != null) {
            result.put("form", "standard");
            Map<String, String> contents = new LinkedHashMap<>();
            if (store.getValues() != null) {
                for (StoredValue value : store.getValues().getValue()) {
                    contents.put(value.getId(), text(value.getContent()));
                    classes.add(className(value.getContent()));
                }
            }
            if (store.getEntries() != null) {
                for (StandardEntry entry : store.getEntries().getEntry()) {
                    List<Object> texts = new ArrayList<>();
                    for (String ref : entry.getValue()) {
                        texts.add(contents.get(ref));
                    }
                    entries.put(entry.getName(), texts);
                }
            }
        } else {
            result.put("form", "simple");
            for (SimpleEntry entry : store.getEntry()) {
                List<Object> texts = new ArrayList<>();
                for (Object value : entry.getValue()) {
                    texts.add(text(value));
                    classes.add(className(value));
                }
                entries.put(entry.getName(), texts);
            }
        }
        result.put("entries", entries);
        result.put("valueClasses", classes);
        return result;
    }

    /** An xs:anyType value as JAXB hands it over: a DOM Element (untyped content) or a String (xs:string). */
    private static String text(Object value) {
        if (value == null) {
            return null;
        }
        return value instanceof Element ? ((Element) value).getTextContent() : value.toString();
    }

    private static String className(Object value) {
        if (value == null) {
            return null;
        }
        return value instanceof Element ? "org.w3c.dom.Element" : value.getClass().getName();
    }

    // -- a step: its result, or the exception it threw, and its SOAP exchanges ----------------------
    interface Body {
        Object call() throws Exception;
    }

    private static Map<String, Object> step(Body body) {
        Map<String, Object> result = new LinkedHashMap<>();
        System.out.flush();
        WIRE.reset();
        try {
            Object value = body.call();
            result.put("result", value instanceof ProcessExecutionSnapshot
                ? snapshot((ProcessExecutionSnapshot) value) : value);
        } catch (Error_Exception fault) {
            Map<String, Object> error = new LinkedHashMap<>();
            error.put("exception", fault.getClass().getName());
            error.put("faultString", fault.getMessage());
            error.put("type", fault.getFaultInfo() == null ? null : fault.getFaultInfo().getType());
            error.put("message", fault.getFaultInfo() == null ? null : fault.getFaultInfo().getMessage());
            result.put("fault", error);
        } catch (Errors_Exception fault) {
            Map<String, Object> error = new LinkedHashMap<>();
            error.put("exception", fault.getClass().getName());
            error.put("faultString", fault.getMessage());
            result.put("fault", error);
        } catch (Exception unexpected) {
            Map<String, Object> error = new LinkedHashMap<>();
            error.put("exception", unexpected.getClass().getName());
            error.put("message", String.valueOf(unexpected.getMessage()));
            result.put("exception", error);
        }
        System.out.flush();
        result.put("wire", new String(WIRE.toByteArray(), StandardCharsets.UTF_8));
        return result;
    }

    // -- a small JSON writer (the JDK has none) -----------------------------------------------------
    private static String json(Object value) {
        StringBuilder text = new StringBuilder();
        write(text, value);
        return text.toString();
    }

    private static void write(StringBuilder text, Object value) {
        if (value == null) {
            text.append("null");
        } else if (value instanceof Map) {
            text.append('{');
            String separator = "";
            for (Map.Entry<?, ?> item : ((Map<?, ?>) value).entrySet()) {
                text.append(separator);
                write(text, String.valueOf(item.getKey()));
                text.append(':');
                write(text, item.getValue());
                separator = ",";
            }
            text.append('}');
        } else if (value instanceof List) {
            text.append('[');
            String separator = "";
            for (Object item : (List<?>) value) {
                text.append(separator);
                write(text, item);
                separator = ",";
            }
            text.append(']');
        } else if (value instanceof Number || value instanceof Boolean) {
            text.append(value);
        } else {
            text.append('"');
            for (char c : value.toString().toCharArray()) {
                if (c == '"' || c == '\\') {
                    text.append('\\').append(c);
                } else if (c < 0x20) {
                    text.append(String.format("\\u%04x", (int) c));
                } else {
                    text.append(c);
                }
            }
            text.append('"');
        }
    }
}
