// Makes a Kafka cluster's topics match infra/kafka/topics.conf, through Kafka's Admin API in one
// JVM. Run by infra/kafka/topics.sh (which compiles it once against the cached Kafka jars); see
// topics.conf for the file format and the rules.
//
//   java -cp <classes>:<libs>/* TopicsAsCode <bootstrap servers> <topics.conf>
//
// Exit status: 0 when every topic matches (after any changes), 1 on an error or a bad definition.

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;

public final class TopicsAsCode {
    record Topic(String name, int partitions, short replicationFactor, Map<String, String> configs) {}

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: TopicsAsCode <bootstrap servers> <topics.conf>");
            System.exit(2);
        }
        List<Topic> wanted;
        try {
            wanted = parse(Path.of(args[1]));
        } catch (IllegalArgumentException | IOException e) {
            System.err.println("[kafka] error: " + e.getMessage());
            System.exit(1);
            return;
        }

        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "gatehouse-topics-as-code");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");

        int problems = 0;
        try (Admin admin = Admin.create(props)) {
            Set<String> existing = admin.listTopics().names().get();
            for (Topic t : wanted) {
                try {
                    if (!existing.contains(t.name()) && create(admin, t)) {
                        continue;
                    }
                    reconcile(admin, t);
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause() == null ? e : e.getCause();
                    System.err.printf("[kafka] error: topic %s: %s%n", t.name(), cause);
                    problems++;
                }
            }
        }
        System.exit(problems == 0 ? 0 : 1);
    }

    /** Creates the topic; false if someone else created it first (then it is reconciled). */
    private static boolean create(Admin admin, Topic t) throws Exception {
        NewTopic nt = new NewTopic(t.name(), t.partitions(), t.replicationFactor()).configs(t.configs());
        try {
            admin.createTopics(List.of(nt)).all().get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TopicExistsException) {
                return false;
            }
            throw e;
        }
        System.out.printf("%s: created, %d partitions, replication factor %d, %s%n",
                t.name(), t.partitions(), t.replicationFactor(), t.configs());
        return true;
    }

    /** Brings an existing topic in line; warns about what it cannot or will not change. */
    private static void reconcile(Admin admin, Topic t) throws Exception {
        List<String> changes = new ArrayList<>();

        TopicDescription d = admin.describeTopics(List.of(t.name())).allTopicNames().get().get(t.name());
        int partitions = d.partitions().size();
        if (partitions < t.partitions()) {
            admin.createPartitions(Map.of(t.name(), NewPartitions.increaseTo(t.partitions()))).all().get();
            changes.add("partitions " + partitions + " -> " + t.partitions());
        } else if (partitions > t.partitions()) {
            System.err.printf("[kafka] warning: topic %s has %d partitions, more than the %d defined; Kafka cannot"
                    + " remove partitions (delete and recreate the topic, or reset the state dir)%n",
                    t.name(), partitions, t.partitions());
        }
        int rf = d.partitions().get(0).replicas().size();
        if (rf != t.replicationFactor()) {
            System.err.printf("[kafka] warning: topic %s has replication factor %d, not the %d defined;"
                    + " this script does not reassign replicas%n", t.name(), rf, t.replicationFactor());
        }

        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, t.name());
        Config current = admin.describeConfigs(List.of(res)).all().get().get(res);
        Collection<AlterConfigOp> ops = new ArrayList<>();
        for (Map.Entry<String, String> want : t.configs().entrySet()) {
            ConfigEntry have = current.get(want.getKey());
            boolean explicit = have != null && have.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG;
            if (!explicit || !want.getValue().equals(have.value())) {
                ops.add(new AlterConfigOp(new ConfigEntry(want.getKey(), want.getValue()), AlterConfigOp.OpType.SET));
                changes.add(want.getKey() + " " + (have == null ? "unset" : have.value()) + " -> " + want.getValue());
            }
        }
        if (!ops.isEmpty()) {
            admin.incrementalAlterConfigs(Map.of(res, ops)).all().get();
        }
        for (ConfigEntry e : current.entries()) {
            if (e.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG && !t.configs().containsKey(e.name())) {
                System.err.printf("[kafka] warning: topic %s sets %s=%s, which topics.conf does not list (left as is)%n",
                        t.name(), e.name(), e.value());
            }
        }
        System.out.printf("%s: %s, %d partitions, replication factor %d, %s%n",
                t.name(), changes.isEmpty() ? "up to date" : "updated", Math.max(partitions, t.partitions()), rf,
                changes.isEmpty() ? t.configs() : String.join(", ", changes));
    }

    private static List<Topic> parse(Path file) throws IOException {
        List<Topic> topics = new ArrayList<>();
        int lineNo = 0;
        for (String raw : Files.readAllLines(file)) {
            lineNo++;
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\\s+");
            if (f.length < 3 || f.length > 4) {
                throw new IllegalArgumentException(file + ":" + lineNo + ": expected 'name partitions replication [k=v,...]'");
            }
            String name = f[0];
            String envName = "GATEHOUSE_KAFKA_PARTITIONS_" + name.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9]", "_");
            String partitionsText = System.getenv().getOrDefault(envName, f[1]);
            int partitions;
            short rf;
            try {
                partitions = Integer.parseInt(partitionsText);
                rf = Short.parseShort(f[2]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(file + ":" + lineNo + ": bad number (" + e.getMessage()
                        + "; partitions may come from " + envName + ")");
            }
            if (partitions < 1 || rf < 1) {
                throw new IllegalArgumentException(file + ":" + lineNo + ": partitions and replication factor must be >= 1");
            }
            Map<String, String> configs = new LinkedHashMap<>();
            if (f.length == 4) {
                for (String kv : f[3].split(",")) {
                    int eq = kv.indexOf('=');
                    if (eq <= 0) {
                        throw new IllegalArgumentException(file + ":" + lineNo + ": bad config '" + kv + "'");
                    }
                    configs.put(kv.substring(0, eq), kv.substring(eq + 1));
                }
            }
            topics.add(new Topic(name, partitions, rf, configs));
        }
        if (topics.isEmpty()) {
            throw new IllegalArgumentException(file + ": no topics defined");
        }
        return topics;
    }
}
