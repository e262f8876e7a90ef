import SCoReRuntime
print(LibraryVersion.string)
