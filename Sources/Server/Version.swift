public let posternVersion = "0.1.0"
