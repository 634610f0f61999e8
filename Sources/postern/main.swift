import Server
print("postern \(posternVersion)")
