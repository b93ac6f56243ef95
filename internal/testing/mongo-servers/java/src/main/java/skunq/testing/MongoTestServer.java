package skunq.testing;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.ServerVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

/**
 * Runs mongo-java-server on 127.0.0.1:PORT for skunq's tests: in memory, or in an H2 file when a
 * path is given, so that a restart keeps the data. It reports MongoDB 5.0 because the Node driver
 * refuses servers below wire version 8, and it keeps an oplog so change streams work.
 * Prints "listening PORT" when ready; stops on SIGTERM.
 */
public final class MongoTestServer {
    public static void main(String[] args) throws Exception {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: MongoTestServer PORT [H2_FILE]");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        MongoBackend backend = args.length == 2
            ? new H2Backend(args[1]).version(ServerVersion.MONGO_5_0)
            : new MemoryBackend().version(ServerVersion.MONGO_5_0);
        MongoServer server = new MongoServer(backend);
        server.enableOplog();
        server.bind("127.0.0.1", port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        System.out.println("listening " + port);
        System.out.flush();
        Thread.currentThread().join();
    }
}
