// Ends the whole host while it is being imported: nothing can be isolated from that.
process.stderr.write("leaving at import time\n");
process.exit(3);

export default () => {};
