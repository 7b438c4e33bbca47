// Runs a Java action in OpenWhisk's action loop, as openwhisk-runtime-java: a jar whose class (--main, default
// Main; "Class#method" names another method) has `public static JsonObject main(JsonObject args)` (Gson). Says
// {"ok": true} on fd 3 (or {"error": why} when the class or method cannot be loaded), then reads one request per
// line on fd 4 (runtimes/java/launch) and writes each result as one line on fd 3. What the action prints is its
// log. The request's __OW_* keys are set in the environment System.getenv reads, as OpenWhisk's runtime does.

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

public final class Launcher {
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().serializeNulls().create();

    public static void main(String[] argv) throws Exception {
        PrintStream results = new PrintStream(new FileOutputStream("/proc/self/fd/3"), true, StandardCharsets.UTF_8);
        String main = argv.length > 1 ? argv[1] : "Main";
        String className = main.equals("main") ? "Main" : main;
        String methodName = "main";
        int hash = className.indexOf('#');
        if (hash >= 0) {
            methodName = className.substring(hash + 1);
            className = className.substring(0, hash);
        }
        Method method;
        try {
            method = Class.forName(className).getMethod(methodName, JsonObject.class);
        } catch (ClassNotFoundException | NoSuchMethodException | LinkageError e) {
            e.printStackTrace();
            refuse(results, "The action has no public static " + methodName + "(JsonObject) in class " + className
                    + ": " + e);
            return;
        }
        if (!Modifier.isStatic(method.getModifiers())) {
            refuse(results, "The action's " + className + "." + methodName + " is not static.");
            return;
        }
        BufferedReader requests = new BufferedReader(
                new InputStreamReader(new FileInputStream("/proc/self/fd/4"), StandardCharsets.UTF_8));
        results.print("{\"ok\":true}\n");
        results.flush();
        String line;
        while ((line = requests.readLine()) != null) {
            String answer = answer(method, line);
            System.out.flush();
            System.err.flush();
            results.print(answer + "\n");
            results.flush();
        }
    }

    private static String answer(Method method, String line) {
        JsonObject request = JsonParser.parseString(line).getAsJsonObject();
        JsonElement value = request.remove("value");
        JsonObject args = value != null && value.isJsonObject() ? value.getAsJsonObject() : new JsonObject();
        Map<String, String> env = new HashMap<>();
        for (Map.Entry<String, JsonElement> entry : request.entrySet()) {
            JsonElement v = entry.getValue();
            env.put("__OW_" + entry.getKey().toUpperCase(),
                    v.isJsonPrimitive() && v.getAsJsonPrimitive().isString() ? v.getAsString() : v.toString());
        }
        try {
            setenv(env);
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.err.println("cannot set the __OW_ variables: " + e);
        }
        try {
            Object result = method.invoke(null, args);
            return GSON.toJson(result);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            cause.printStackTrace();
            JsonObject error = new JsonObject();
            error.addProperty("error", cause.getMessage() != null ? cause.getMessage() : cause.toString());
            return GSON.toJson(error);
        } catch (IllegalAccessException | RuntimeException e) {
            e.printStackTrace();
            JsonObject error = new JsonObject();
            error.addProperty("error", "The action could not be called: " + e);
            return GSON.toJson(error);
        }
    }

    private static void refuse(PrintStream results, String message) {
        JsonObject error = new JsonObject();
        error.addProperty("error", message);
        results.print(GSON.toJson(error) + "\n");
        results.flush();
        System.exit(1);
    }

    // System.getenv's map is read-only; its backing map is not (needs --add-opens java.base/java.util).
    @SuppressWarnings("unchecked")
    private static void setenv(Map<String, String> values) throws ReflectiveOperationException {
        Map<String, String> env = System.getenv();
        Field backing = env.getClass().getDeclaredField("m");
        backing.setAccessible(true);
        ((Map<String, String>) backing.get(env)).putAll(values);
    }
}
