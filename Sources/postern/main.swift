import Glibc
import Server

exit(PosternMain.run(Array(CommandLine.arguments.dropFirst())))
